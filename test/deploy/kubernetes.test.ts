/**
 * deploy/kubernetes as users render it: `kubectl kustomize` (its built-in kustomize; KUBECTL names
 * another binary) renders the base and each overlay, offline. Every object is validated against
 * the Kubernetes and KEDA schemas (kubernetes-models, @kubernetes-models/keda), then the
 * references between them and the code are checked: probes against container ports and the
 * Service, the ScaledObject's query against the metric the API exports, every env name against
 * the configuration schema. Skipped, with a message, where kubectl is absent.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, QUEUE_DEMAND_METRIC, QueueDepthMetrics, loadConfig, nodeFlags } from '@wamedia/server';
import { DOWNLOAD_QUEUE } from '@wamedia/shared';

const kustomizeRoot = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const kubectl = process.env.KUBECTL ?? 'kubectl';
const available = spawnSync(kubectl, ['version', '--client'], { stdio: 'ignore' }).status === 0;
if (!available) console.warn(`${kubectl} not found (apt-get install kubernetes-client): Kubernetes manifest checks skipped`);

/** The only warning kubectl may print: `bases` is what Debian's kubectl (1.20) needs for a folder. */
const BASES_DEPRECATED = /^# Warning: 'bases' is deprecated\..*$/gm;

/** Settings whose values are secret: they must come from a Secret, never from the ConfigMap. */
const SECRET_VARIABLES = ['JWT_SECRET', 'JOB_DATA_KEY', 'SIGNED_URL_SECRET', 'WEBHOOK_SECRET', 'ADMIN_TOKEN', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];

/**
 * Measured memory (docs/scaling.md, from `pnpm bench` P3 and the README's table): a worker peaks
 * at 135-175 MiB on a 1 GiB media, an API process at about 140 MiB.
 */
const WORKER_PEAK_MIB = 175;
const API_PROCESS_PEAK_MIB = 140;

/** The schema class of each kind the manifests may hold; any other kind fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

// The rendered objects, as far as these checks read them (the schemas check the rest).
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: Record<string, string> | { matchLabels: Record<string, string> };
    template?: PodTemplate;
    ports?: { name?: string; port: number; targetPort: number | string }[];
    scaleTargetRef?: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    cooldownPeriod?: number;
    triggers?: { type: string; metadata: Record<string, string> }[];
  };
}

/** `kubectl kustomize <dir>`'s objects; throws with kubectl's message when it fails or warns. */
function render(dir: string): K8sObject[] {
  const result = spawnSync(kubectl, ['kustomize', dir], { cwd: kustomizeRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${kubectl} kustomize ${dir} failed:\n${result.stderr}`);
  expect(result.stderr.replace(BASES_DEPRECATED, '').trim(), `${kubectl} kustomize ${dir} warned`).toBe('');
  return parseAllDocuments(result.stdout).map((document) => {
    if (document.errors.length > 0) throw new Error(`kubectl printed YAML that does not parse: ${document.errors[0]!.message}`);
    return document.toJS() as K8sObject;
  });
}

/** The schema errors of `object`: empty when it is valid. */
function schemaErrors(object: K8sObject): string[] {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [`no schema for ${object.apiVersion} ${object.kind} (add its model to MODELS)`];
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${object.kind} ${object.metadata.name}: ${(error as Error).message}`];
  }
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}`);
  return found;
}

function container(deployment: K8sObject): Container {
  const containers = deployment.spec!.template!.spec.containers;
  expect(containers, `${deployment.metadata.name}'s containers`).toHaveLength(1);
  return containers[0]!;
}

/** The wamedia ConfigMap (its name carries kustomize's hash). */
function configMap(objects: K8sObject[]): K8sObject {
  const maps = objects.filter((object) => object.kind === 'ConfigMap' && object.metadata.name.startsWith('wamedia-config'));
  expect(maps).toHaveLength(1);
  return maps[0]!;
}

/** A named or numbered container port. */
function portNumber(c: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Kubernetes quantities as used here: cores ("2", "500m"), bytes ("384Mi", "1Gi") in MiB. */
function cores(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`not a quantity in Mi or Gi: ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

/** A selector's labels: a Deployment's or PDB's `matchLabels`, or a Service's map itself. */
function matchLabels(selector: unknown): Record<string, string> {
  const labels = selector as { matchLabels?: Record<string, string> } & Record<string, string>;
  return labels.matchLabels ?? labels;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/**
 * The environment a container ends with: the ConfigMap's (envFrom), then its own entries, which
 * win, except an optional Secret key (which may be missing: the ConfigMap's value stays then).
 */
function environment(c: Container, config: K8sObject): Map<string, EnvVar> {
  const env = new Map<string, EnvVar>();
  for (const source of c.envFrom ?? []) {
    expect(source.configMapRef?.name, 'envFrom names only the wamedia ConfigMap').toBe(config.metadata.name);
    for (const [name, value] of Object.entries(config.data!)) env.set(name, { name, value });
  }
  for (const entry of c.env ?? []) {
    if (!(entry.valueFrom?.secretKeyRef?.optional && env.has(entry.name))) env.set(entry.name, entry);
  }
  return env;
}

const OVERLAYS = ['base', 'overlays/in-cluster', 'overlays/external'] as const;

describe.skipIf(!available)('deploy/kubernetes, rendered by kubectl kustomize', () => {
  const rendered = Object.fromEntries(OVERLAYS.map((dir) => [dir, available ? render(dir) : []])) as Record<(typeof OVERLAYS)[number], K8sObject[]>;

  it.each(OVERLAYS)('%s: every object is valid against the Kubernetes and KEDA schemas', (dir) => {
    expect(rendered[dir].length).toBeGreaterThan(0);
    expect(rendered[dir].flatMap(schemaErrors)).toEqual([]);
  });

  it('the schemas catch a broken object (so the check above checks something)', () => {
    const deployment = structuredClone(find(rendered.base, 'Deployment', 'wamedia-api'));
    container(deployment).ports![0]!.containerPort = 'http' as never;
    expect(schemaErrors(deployment).join('\n')).toMatch(/containerPort must be integer/);
    const scaledObject = structuredClone(find(rendered.base, 'ScaledObject', 'wamedia-worker'));
    scaledObject.spec!.minReplicaCount = 'one' as never;
    expect(schemaErrors(scaledObject).join('\n')).toMatch(/minReplicaCount must be integer/);
  });

  it('the base holds the API Deployment and Service, the worker Deployment, its ScaledObject, both PDBs and the ConfigMap', () => {
    const kinds = rendered.base.map((object) => `${object.kind} ${object.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
    expect(kinds).toEqual(
      [
        'ConfigMap wamedia-config',
        'Deployment wamedia-api',
        'Deployment wamedia-worker',
        'PodDisruptionBudget wamedia-api',
        'PodDisruptionBudget wamedia-worker',
        'ScaledObject wamedia-worker',
        'Service wamedia-api',
      ].sort(),
    );
  });

  describe.each(OVERLAYS)('%s', (dir) => {
    const objects = rendered[dir];
    const config = () => configMap(objects);
    const api = () => find(objects, 'Deployment', 'wamedia-api');
    const worker = () => find(objects, 'Deployment', 'wamedia-worker');

    it('probes name ports the containers have, on the health routes of each process', () => {
      for (const [deployment, port] of [
        [api(), Number(config().data!.PORT)],
        [worker(), Number(config().data!.WORKER_HEALTH_PORT)],
      ] as const) {
        const c = container(deployment);
        const probes = { startupProbe: '/healthz', livenessProbe: '/healthz', readinessProbe: '/readyz' } as const;
        for (const [probe, path] of Object.entries(probes)) {
          const httpGet = c[probe as keyof typeof probes]?.httpGet;
          expect(httpGet?.path, `${deployment.metadata.name} ${probe}`).toBe(path);
          // The port the process listens on (PORT, WORKER_HEALTH_PORT) is the port probed.
          expect(portNumber(c, httpGet!.port), `${deployment.metadata.name} ${probe} port`).toBe(port);
        }
      }
    });

    it("the Service selects the API's pods and targets its container port", () => {
      const service = find(objects, 'Service', 'wamedia-api');
      expect(selects(matchLabels(service.spec!.selector), api().spec!.template!.metadata.labels)).toBe(true);
      expect(selects(matchLabels(service.spec!.selector), worker().spec!.template!.metadata.labels)).toBe(false);
      expect(service.spec!.ports!.map((p) => portNumber(container(api()), p.targetPort))).toEqual([Number(config().data!.PORT)]);
    });

    it('each Deployment selects its own pods, and each PodDisruptionBudget the pods of one Deployment', () => {
      for (const deployment of [api(), worker()]) {
        expect(selects(matchLabels(deployment.spec!.selector), deployment.spec!.template!.metadata.labels)).toBe(true);
      }
      for (const [name, deployment, other] of [
        ['wamedia-api', api(), worker()],
        ['wamedia-worker', worker(), api()],
      ] as const) {
        const selector = matchLabels(find(objects, 'PodDisruptionBudget', name).spec!.selector);
        expect(selects(selector, deployment.spec!.template!.metadata.labels), name).toBe(true);
        expect(selects(selector, other.spec!.template!.metadata.labels), name).toBe(false);
      }
    });

    it(`the ScaledObject scales the workers on ${QUEUE_DEMAND_METRIC} of the download queue, the metric the API exports, one worker per WORKER_CONCURRENCY jobs`, () => {
      const scaled = find(objects, 'ScaledObject', 'wamedia-worker');
      expect(scaled.spec!.scaleTargetRef!.name).toBe(worker().metadata.name);
      expect(scaled.spec!.scaleTargetRef!.kind ?? 'Deployment').toBe('Deployment');
      expect(scaled.spec!.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec!.maxReplicaCount).toBeGreaterThan(scaled.spec!.minReplicaCount!);
      expect(scaled.spec!.cooldownPeriod).toBeGreaterThan(0);
      const [trigger, ...others] = scaled.spec!.triggers!;
      expect(others).toEqual([]);
      expect(trigger!.type).toBe('prometheus');
      // Every API replica exports the same figure: max over them, never sum.
      const query = /^max\((\w+)\{queue="([^"]+)"\}\)$/.exec(trigger!.metadata.query!);
      expect(query, trigger!.metadata.query).not.toBeNull();
      expect(query![1]).toBe(QUEUE_DEMAND_METRIC);
      expect(query![2]).toBe(DOWNLOAD_QUEUE);
      expect(new QueueDepthMetrics([]).registry.getSingleMetric(QUEUE_DEMAND_METRIC), 'a metric the API exports').toBeDefined();
      expect(Number(trigger!.metadata.threshold)).toBe(Number(config().data!.WORKER_CONCURRENCY));
      // An absent series (the API lost Redis) is a failure (KEDA's fallback), not a demand of 0.
      expect(trigger!.metadata.ignoreNullValues).toBe('false');
    });

    it('names only variables the configuration reads, in the ConfigMap and every container of wamedia', () => {
      const known = new Set<string>(CONFIG_VARIABLES);
      expect(Object.keys(config().data!).filter((name) => !known.has(name))).toEqual([]);
      for (const deployment of [api(), worker()]) {
        const c = container(deployment);
        expect((c.env ?? []).map((entry) => entry.name).filter((name) => !known.has(name)), deployment.metadata.name).toEqual([]);
        // A Secret's key is the variable it sets: `kubectl create secret --from-literal=JWT_SECRET=...`.
        const secretKeys = (c.env ?? []).flatMap((entry) => (entry.valueFrom?.secretKeyRef ? [entry.valueFrom.secretKeyRef.key] : []));
        expect(secretKeys.filter((key) => !known.has(key)), deployment.metadata.name).toEqual([]);
        expect((c.env ?? []).filter((entry) => entry.valueFrom?.secretKeyRef && entry.valueFrom.secretKeyRef.key !== entry.name)).toEqual([]);
      }
    });

    it('takes every secret from a Secret, the same one for the API and the workers, and nothing secret from the ConfigMap', () => {
      expect(Object.keys(config().data!).filter((name) => SECRET_VARIABLES.includes(name))).toEqual([]);
      const secretsOf = (deployment: K8sObject) =>
        Object.fromEntries((container(deployment).env ?? []).filter((entry) => entry.valueFrom?.secretKeyRef).map((entry) => [entry.name, entry.valueFrom]));
      const apiSecrets = secretsOf(api());
      for (const name of SECRET_VARIABLES) expect(apiSecrets[name], `the API's ${name}`).toBeDefined();
      expect(apiSecrets.JWT_SECRET!.secretKeyRef!.optional ?? false, 'JWT_SECRET is required').toBe(false);
      // The workers open what the API seals (JOB_DATA_KEY, or the key derived from JWT_SECRET).
      const workerSecrets = secretsOf(worker());
      for (const name of Object.keys(workerSecrets)) expect(workerSecrets[name], `the worker's ${name}`).toEqual(apiSecrets[name]);
      for (const name of ['JWT_SECRET', 'JOB_DATA_KEY', 'SIGNED_URL_SECRET', 'WEBHOOK_SECRET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
        expect(workerSecrets[name], `the worker's ${name}`).toBeDefined();
      }
    });

    it('holds settings the configuration accepts, once the Secrets give theirs', () => {
      for (const deployment of [api(), worker()]) {
        const env = environment(container(deployment), config());
        const values = Object.fromEntries(
          [...env.values()].map((entry) => [entry.name, entry.value ?? (entry.valueFrom?.secretKeyRef?.optional ? '' : 'a-secret-of-at-least-16-characters')]),
        );
        expect(() => loadConfig(values), deployment.metadata.name).not.toThrow();
      }
    });

    it('runs the API as the image does (dist/start.js, no workers) with API_PROCESSES matching its CPU limit', () => {
      const c = container(api());
      expect(c.image).toMatch(/^wamedia(:|$)/);
      // The image's command, and its WORKER_PROCESSES=0: workers run in pods of their own.
      expect(c.command).toBeUndefined();
      expect(environment(c, config()).has('WORKER_PROCESSES')).toBe(false);
      const processes = Number(environment(c, config()).get('API_PROCESSES')?.value);
      expect(processes).toBe(cores(c.resources!.limits!.cpu!));
      expect(mebibytes(c.resources!.limits!.memory!)).toBeGreaterThanOrEqual(processes * API_PROCESS_PEAK_MIB);
    });

    it('runs one worker process per pod, with the node flags pnpm start gives it, on one core', () => {
      const c = container(worker());
      expect(c.image).toBe(container(api()).image);
      expect(c.command).toEqual(['node', ...nodeFlags.worker, 'dist/worker.js']);
      expect(cores(c.resources!.limits!.cpu!)).toBe(1);
      // KEDA owns the number of workers: a replicas field would fight it at every apply.
      expect(worker().spec!.replicas).toBeUndefined();
    });

    it('gives every container of wamedia requests and limits that follow the measured memory', () => {
      for (const deployment of [api(), worker()]) {
        const { requests, limits } = container(deployment).resources!;
        for (const resource of ['cpu', 'memory']) {
          expect(requests?.[resource], `${deployment.metadata.name} ${resource} request`).toBeDefined();
        }
        expect(limits?.memory, `${deployment.metadata.name} memory limit`).toBeDefined();
        expect(mebibytes(limits!.memory!)).toBeGreaterThanOrEqual(mebibytes(requests!.memory!));
      }
      expect(mebibytes(container(worker()).resources!.requests!.memory!)).toBeGreaterThanOrEqual(WORKER_PEAK_MIB);
    });

    it('gives each pod longer to stop than SHUTDOWN_GRACE_MS (after the API\'s preStop pause)', () => {
      const graceSeconds = Number(config().data!.SHUTDOWN_GRACE_MS) / 1000;
      expect(graceSeconds).toBeGreaterThan(0);
      for (const deployment of [api(), worker()]) {
        const preStop = container(deployment).lifecycle?.preStop?.exec?.command;
        const pause = preStop ? Number(/^sleep$/.test(preStop[0]!) ? preStop[1] : NaN) : 0;
        expect(pause, `${deployment.metadata.name} preStop`).not.toBeNaN();
        expect(deployment.spec!.template!.spec.terminationGracePeriodSeconds, deployment.metadata.name).toBeGreaterThan(pause + graceSeconds);
      }
    });
  });

  it('overlays/in-cluster adds a Redis and a MinIO the ConfigMap points at, the MinIO with the S3 keys of the Secret', () => {
    const objects = rendered['overlays/in-cluster'];
    const data = configMap(objects).data!;
    const redis = find(objects, 'Service', 'redis');
    expect(data.REDIS_URL).toBe(`redis://redis:${redis.spec!.ports![0]!.port}`);
    const minio = find(objects, 'Service', 'minio');
    expect(data.S3_ENDPOINT).toBe(`http://minio:${minio.spec!.ports![0]!.port}`);
    for (const name of ['redis', 'minio']) {
      const set = find(objects, 'StatefulSet', name);
      expect(selects(matchLabels(find(objects, 'Service', name).spec!.selector), set.spec!.template!.metadata.labels)).toBe(true);
      expect(portNumber(container(set), find(objects, 'Service', name).spec!.ports![0]!.targetPort)).toBeDefined();
    }
    const minioEnv = container(find(objects, 'StatefulSet', 'minio')).env!;
    const keyOf = (name: string) => minioEnv.find((entry) => entry.name === name)?.valueFrom?.secretKeyRef;
    expect(keyOf('MINIO_ROOT_USER')).toEqual({ name: 'wamedia-s3', key: 'S3_ACCESS_KEY_ID' });
    expect(keyOf('MINIO_ROOT_PASSWORD')).toEqual({ name: 'wamedia-s3', key: 'S3_SECRET_ACCESS_KEY' });
    const bucketJob = container(find(objects, 'Job', 'minio-bucket')).env!;
    expect(bucketJob.find((entry) => entry.name === 'S3_BUCKET')?.valueFrom?.configMapKeyRef?.name).toBe(configMap(objects).metadata.name);
  });

  it('overlays/external runs no Redis or MinIO and points the ConfigMap at the outside ones', () => {
    const objects = rendered['overlays/external'];
    expect(objects.filter((object) => ['StatefulSet', 'Job'].includes(object.kind))).toEqual([]);
    const data = configMap(objects).data!;
    expect(data.REDIS_URL).not.toMatch(/\/\/redis:/);
    expect(data.S3_ENDPOINT).not.toMatch(/minio/);
    expect(data.S3_FORCE_PATH_STYLE).toBe('false');
    // A REDIS_URL with a password can come from the Secret, which wins over the ConfigMap's.
    const redisUrl = container(find(objects, 'Deployment', 'wamedia-api')).env!.find((entry) => entry.name === 'REDIS_URL');
    expect(redisUrl?.valueFrom?.secretKeyRef).toEqual({ name: 'wamedia-secrets', key: 'REDIS_URL', optional: true });
  });
});
