import { describe, expect, it } from 'vitest';
import { dependencyCycle, parseStack } from './stack-file.js';

const GOOD = `defaults:
  memoryMb: 256
  env: { LOG_LEVEL: info, REGION: eu }
functions:
  api:
    runtime: node
    handler: index.handler
    aliases: [live]
    env:
      REGION: us
  worker:
    dir: jobs/worker
    dependsOn: [api]
    runtime: java
    maxInstances: 2
    asyncRetries: 5
`;

describe('parseStack', () => {
  it('merges defaults under each function, env by name', () => {
    const { functions, issues } = parseStack('kiln.yaml', GOOD);
    expect(issues).toEqual([]);
    expect(functions).toEqual([
      {
        name: 'api',
        dir: 'api',
        dependsOn: [],
        aliases: ['live'],
        line: 5,
        fields: {
          memoryMb: 256,
          runtime: 'node',
          handler: 'index.handler',
          env: { LOG_LEVEL: 'info', REGION: 'us' },
        },
      },
      {
        name: 'worker',
        dir: 'jobs/worker',
        dependsOn: ['api'],
        aliases: [],
        line: 11,
        fields: {
          memoryMb: 256,
          runtime: 'java',
          maxInstances: 2,
          asyncRetries: 5,
          env: { LOG_LEVEL: 'info', REGION: 'eu' },
        },
      },
    ]);
  });

  it('names the line, column and field of every bad value, and keeps going', () => {
    const { issues } = parseStack(
      'kiln.yaml',
      `defaults:
  memoryMb: 9
functions:
  api:
    runtime: cobol
    timeoutMs: soon
    colour: blue
  Bad_Name:
    runtime: node
  ok:
    runtime: node
    minInstances: 5
    maxInstances: 2
`,
    );
    expect(issues.map((i) => `${i.line}:${i.column} ${i.field}`)).toEqual([
      '7:5 functions.api.colour',
      '2:13 defaults.memoryMb',
      '5:14 functions.api.runtime',
      '6:16 functions.api.timeoutMs',
      '8:3 functions.Bad_Name',
    ]);
    expect(issues[2]!.message).toMatch(/unknown runtime "cobol"/);
  });

  it('reports a cross-field rule at the function', () => {
    const { issues } = parseStack(
      'kiln.yaml',
      'functions:\n  ok:\n    runtime: node\n    minInstances: 5\n    maxInstances: 2\n',
    );
    expect(issues).toMatchObject([
      { line: 2, column: 3, field: 'functions.ok', message: expect.stringMatching(/minInstances/) },
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const { issues, functions } = parseStack('s.yaml', 'functions:\n  api: [1\n');
    expect(functions).toEqual([]);
    expect(issues[0]).toMatchObject({ file: 's.yaml', field: '(yaml)' });
    expect(issues[0]!.line).toBeGreaterThan(1);
  });

  it('refuses duplicate keys and a file without functions', () => {
    expect(parseStack('k', 'functions:\n  a: {runtime: node}\n  a: {runtime: node}\n').issues[0]!.field).toBe(
      '(yaml)',
    );
    expect(parseStack('k', 'defaults: {}\n').issues[0]!.field).toBe('functions');
  });

  it('checks dependsOn: names of this stack, not itself, no cycle, not in defaults', () => {
    const { issues } = parseStack(
      'kiln.yaml',
      `defaults:
  dependsOn: [a]
functions:
  a:
    runtime: node
    dependsOn: [c]
  b:
    runtime: node
    dependsOn: [a, nowhere, b]
  c:
    runtime: node
    dependsOn: [b]
  d:
    runtime: node
    dependsOn: a
    aliases: [Live]
`,
    );
    expect(issues.map((i) => `${i.line}:${i.column} ${i.field}: ${i.message}`)).toEqual([
      '2:3 defaults.dependsOn: unknown field "dependsOn": use dir, dependsOn, aliases, ' +
        issues[0]!.message.split('aliases, ')[1],
      '15:16 functions.d.dependsOn: "dependsOn" must be a list of function names',
      '16:14 functions.d.aliases: alias "Live" is invalid: use 1-63 characters of a-z, 0-9 and "-", starting with a letter',
      '9:16 functions.b.dependsOn: "nowhere" is not a function of this stack',
      '9:16 functions.b.dependsOn: "b" cannot depend on itself',
      '6:16 functions.a.dependsOn: a dependency cycle: a → c → b → a',
    ]);
  });

  it('declares volumes at the top and mounts them per function, long or short form', () => {
    const { functions, volumes, issues } = parseStack(
      'kiln.yaml',
      `volumes: [uploads, cache]
functions:
  api:
    runtime: node
    volumes:
      - { name: uploads, path: /data }
      - cache:/var/cache/app:ro
`,
    );
    expect(issues).toEqual([]);
    expect(volumes).toEqual(['uploads', 'cache']);
    expect(functions[0]!.fields.volumes).toEqual([
      { name: 'uploads', path: '/data' },
      'cache:/var/cache/app:ro',
    ]);
  });

  it('names the line and column of a bad volume name, path or undeclared volume', () => {
    const { issues } = parseStack(
      'kiln.yaml',
      `volumes: [uploads, ../up, uploads]
functions:
  a:
    runtime: node
    volumes: [{ name: uploads, path: /etc }]
  b:
    runtime: node
    volumes: [elsewhere:/data]
  c:
    runtime: node
    volumes: uploads
`,
    );
    expect(issues.map((i) => `${i.line}:${i.column} ${i.field}`)).toEqual([
      '1:20 volumes',
      '1:27 volumes',
      '5:14 functions.a.volumes',
      '8:14 functions.b.volumes',
      '11:14 functions.c.volumes',
    ]);
    expect(issues[2]!.message).toMatch(/\/etc/);
    expect(issues[3]!.message).toMatch(/"elsewhere" not declared/);
  });

  it('takes x- fields, anchors and merge keys (<<) as compose files use them; own fields win', () => {
    const { functions, issues } = parseStack(
      'kiln.yaml',
      `x-small: &small
  memoryMb: 64
  timeoutMs: 5000
x-env: &env
  REGION: eu
x-java: &java
  runtime: java
  memoryMb: 256
functions:
  a:
    <<: *small
    runtime: node
    timeoutMs: 1000
    env: *env
  b:
    <<: [*java, *small]
    handler: Main
  c:
    <<: *small
    runtime: node
    colour: red
  d:
    <<: *env
    runtime: node
`,
    );
    expect(functions.slice(0, 2).map((f) => [f.name, f.fields])).toEqual([
      ['a', { memoryMb: 64, timeoutMs: 1000, runtime: 'node', env: { REGION: 'eu' } }],
      ['b', { runtime: 'java', memoryMb: 256, handler: 'Main', timeoutMs: 5000 }],
    ]);
    // An unknown field is reported where it is written: here, or in the map merged in.
    expect(issues.map((i) => `${i.line}:${i.column} ${i.field}`)).toEqual([
      '21:5 functions.c.colour',
      '5:3 functions.d.REGION',
    ]);
  });
});

describe('dependencyCycle', () => {
  it('finds a cycle, and none in a tree or a diamond', () => {
    const f = (name: string, ...dependsOn: string[]) => ({ name, dependsOn });
    expect(dependencyCycle([f('a', 'b', 'c'), f('b', 'd'), f('c', 'd'), f('d')])).toBeUndefined();
    expect(dependencyCycle([f('a', 'b'), f('b', 'c'), f('c', 'a')])).toEqual(['a', 'b', 'c', 'a']);
    expect(dependencyCycle([f('x'), f('a', 'b'), f('b', 'a')])).toEqual(['a', 'b', 'a']);
  });
});
