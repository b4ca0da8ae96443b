/** What a push or pull tells its caller as it goes (the CLI draws it on a TTY). */
export interface TransferEvent {
  /** The blob's digest (for a layer being compressed, the tar's). */
  digest: string;
  phase: 'compress' | 'upload' | 'download' | 'exists' | 'mounted' | 'done';
  /** Bytes moved since the last event of this blob and phase. */
  bytes: number;
  total: number;
}

export type TransferProgress = (event: TransferEvent) => void;

export const NO_PROGRESS: TransferProgress = () => {};
