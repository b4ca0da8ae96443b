import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';

/**
 * Check an object against its kind's OpenAPI schema: kubernetes-models' `validate()` throws
 * what is wrong (Knative's from @kubernetes-models/knative). Throws for a kind it has no
 * model of, so an unexpected object cannot pass unchecked.
 */
export function validateKubernetesObject(obj: Record<string, unknown>): void {
  const models: Record<string, (o: never) => { validate(): void }> = {
    'apps/v1 Deployment': (o) => new Deployment(o),
    'v1 Service': (o) => new Service(o),
    'v1 Secret': (o) => new Secret(o),
    'v1 PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o),
    'autoscaling/v2 HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o),
    'serving.knative.dev/v1 Service': (o) => new KnativeService(o),
  };
  const model = models[`${obj.apiVersion} ${obj.kind}`];
  if (!model) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  model(obj as never).validate();
}
