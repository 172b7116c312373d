import { X509Certificate } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import {
  CONFIGURATION_TYPES,
  configurationResource,
  setsAll,
  webhookEntry,
  type WebhookRegistration,
} from '../admission/webhook-configurations.js';
import { arrayAt, objectAt, stringAt, type JsonObject } from '../core/json.js';
import { ApiError, callApi } from '../lookup/kube-api.js';
import type { LeaseElector } from './leader.js';
import { makeCertificateAuthority, makeServingCertificate, type KeyPair } from './tls.js';

// The webhook's own certificates, as Kyverno and Gatekeeper manage theirs: a CA and a serving certificate kept in
// a Secret of the webhook's namespace, the webhook entries of its own configurations registered with that CA, and
// rotation with an overlapping bundle. One replica (the Lease holder) writes; every replica serves what the Secret
// holds. The installed configurations are empty shells until the holder registers the entries, so an install whose
// pods never start sends the API server nowhere (as Kyverno registers its webhooks from its running pods).
//
// Rotating the CA in one step would be an outage: the API server would trust only the new CA while replicas still
// serve the old certificate. So a new CA first joins the bundle (staged), is used to sign only after the bundle
// has been in the configurations for the overlap, and the old CA leaves the bundle an overlap after that.

const DAY_MS = 86_400_000;
const STAGED_AT = 'storage-policy-webhook.io/ca-staged-at';
const PROMOTED_AT = 'storage-policy-webhook.io/ca-promoted-at';

/** What the Secret holds, decoded. */
export interface CertificateMaterial {
  caCert: string;
  caKey: string;
  /** A CA in the bundle that does not sign yet. */
  nextCa: KeyPair | undefined;
  /** Every CA the API server should trust, PEM concatenated. */
  bundle: string;
  servingCert: string;
  servingKey: string;
  stagedAtMs: number | undefined;
  promotedAtMs: number | undefined;
}

interface RotationTimes {
  caLifetimeMs: number;
  servingLifetimeMs: number;
  /** How long a bundle change must stand before the next step relies on it. */
  overlapMs: number;
}

export const DEFAULT_ROTATION: RotationTimes = {
  caLifetimeMs: 365 * DAY_MS,
  servingLifetimeMs: 90 * DAY_MS,
  overlapMs: 5 * 60_000,
};

type RotationStep = 'create' | 'stage-ca' | 'promote-ca' | 'retire-old-ca' | 'renew-serving' | 'none';

function expiresMs(pem: string): number {
  return new Date(new X509Certificate(pem).validTo).getTime();
}

/** PEM blocks of a bundle. */
function certificatesOf(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * The next thing the Lease holder does. Renewal starts when a third of the configured lifetime is left (certificates
 * are backdated a few minutes, so their own validity is longer); a staged CA is promoted, and the old one retired,
 * each an overlap after the step before.
 */
export function nextRotationStep(
  material: CertificateMaterial | undefined,
  now: number,
  times: RotationTimes,
): RotationStep {
  // Past its CA's end nothing the Secret holds can be trusted again: start over (the outage has already happened).
  if (!material || expiresMs(material.caCert) <= now) return 'create';
  if (material.nextCa)
    return material.stagedAtMs !== undefined && now - material.stagedAtMs < times.overlapMs ? 'none' : 'promote-ca';
  if (certificatesOf(material.bundle).length > 1)
    return material.promotedAtMs !== undefined && now - material.promotedAtMs < times.overlapMs
      ? 'none'
      : 'retire-old-ca';
  if (expiresMs(material.caCert) - now < times.caLifetimeMs / 3) return 'stage-ca';
  const serving = new X509Certificate(material.servingCert);
  const ca = new X509Certificate(material.caCert);
  if (!serving.checkIssued(ca) || !serving.verify(ca.publicKey)) return 'renew-serving';
  if (expiresMs(material.servingCert) - now < times.servingLifetimeMs / 3) return 'renew-serving';
  return 'none';
}

function decode(secret: JsonObject): CertificateMaterial | undefined {
  const data = objectAt(secret, 'data') ?? {};
  const field = (key: string): string | undefined => {
    const value = data[key];
    return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : undefined;
  };
  const [caCert, caKey, bundle, servingCert, servingKey] = [
    field('ca.crt'),
    field('ca.key'),
    field('ca-bundle.crt'),
    field('tls.crt'),
    field('tls.key'),
  ];
  if (!caCert || !caKey || !bundle || !servingCert || !servingKey) return undefined;
  const [nextCert, nextKey] = [field('ca-next.crt'), field('ca-next.key')];
  const time = (key: string): number | undefined => {
    const text = stringAt(secret, 'metadata', 'annotations', key);
    const parsed = text === undefined ? NaN : Date.parse(text);
    return Number.isNaN(parsed) ? undefined : parsed;
  };
  return {
    caCert,
    caKey,
    nextCa: nextCert && nextKey ? { cert: nextCert, key: nextKey } : undefined,
    bundle,
    servingCert,
    servingKey,
    stagedAtMs: time(STAGED_AT),
    promotedAtMs: time(PROMOTED_AT),
  };
}

function encode(material: CertificateMaterial): { data: Record<string, string>; annotations: Record<string, string> } {
  const base64 = (text: string): string => Buffer.from(text).toString('base64');
  const data: Record<string, string> = {
    'ca.crt': base64(material.caCert),
    'ca.key': base64(material.caKey),
    'ca-bundle.crt': base64(material.bundle),
    'tls.crt': base64(material.servingCert),
    'tls.key': base64(material.servingKey),
  };
  if (material.nextCa)
    Object.assign(data, { 'ca-next.crt': base64(material.nextCa.cert), 'ca-next.key': base64(material.nextCa.key) });
  const annotations: Record<string, string> = {};
  if (material.stagedAtMs !== undefined) annotations[STAGED_AT] = new Date(material.stagedAtMs).toISOString();
  if (material.promotedAtMs !== undefined) annotations[PROMOTED_AT] = new Date(material.promotedAtMs).toISOString();
  return { data, annotations };
}

interface AuthorityOptions {
  namespace: string;
  secretName: string;
  /** Name of the MutatingWebhookConfiguration and the ValidatingWebhookConfiguration whose entries this keeps. */
  configuration: string;
  /** What to register with a CA bundle, asked at each round (the failurePolicy follows the replica's state). */
  registration: (caBundle: string) => WebhookRegistration;
  /** DNS names of the Service the API server calls, for the serving certificate. */
  hosts: readonly string[];
  times?: RotationTimes;
}

/**
 * Reads the Secret for every replica, and (on the Lease holder) creates, rotates and registers. `serving()` is the
 * pair a replica should serve; `step()` is one round of the holder's work, run on a timer.
 */
export class CertificateAuthority {
  readonly times: RotationTimes;
  private readonly secretPath: string;

  constructor(
    private readonly config: KubeConfig,
    private readonly options: AuthorityOptions,
    private readonly logger: Logger,
  ) {
    this.times = options.times ?? DEFAULT_ROTATION;
    this.secretPath = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/secrets/${encodeURIComponent(options.secretName)}`;
  }

  /** The Secret's material and resourceVersion; undefined when there is no usable Secret yet. */
  async read(): Promise<{
    material: CertificateMaterial | undefined;
    resourceVersion: string | undefined;
    exists: boolean;
  }> {
    try {
      const secret = await callApi(this.config, { method: 'GET', path: this.secretPath });
      return {
        material: decode(secret),
        resourceVersion: stringAt(secret, 'metadata', 'resourceVersion'),
        exists: true,
      };
    } catch (error) {
      if (error instanceof ApiError && error.status === 404)
        return { material: undefined, resourceVersion: undefined, exists: false };
      throw error;
    }
  }

  private async issueServing(ca: KeyPair): Promise<KeyPair> {
    return makeServingCertificate([...this.options.hosts], ca, this.times.servingLifetimeMs / DAY_MS);
  }

  private async newCa(): Promise<KeyPair> {
    return makeCertificateAuthority(
      `storage-policy-webhook-ca@${Math.floor(Date.now() / 1000)}`,
      this.times.caLifetimeMs / DAY_MS,
    );
  }

  /** What the step turns the material into. */
  private async apply(
    step: RotationStep,
    material: CertificateMaterial | undefined,
    now: number,
  ): Promise<CertificateMaterial | undefined> {
    if (step === 'create' || !material) {
      const ca = await this.newCa();
      const serving = await this.issueServing(ca);
      return {
        caCert: ca.cert,
        caKey: ca.key,
        nextCa: undefined,
        bundle: ca.cert,
        servingCert: serving.cert,
        servingKey: serving.key,
        stagedAtMs: undefined,
        promotedAtMs: undefined,
      };
    }
    switch (step) {
      case 'stage-ca': {
        const next = await this.newCa();
        return {
          ...material,
          nextCa: next,
          bundle: `${material.caCert.trim()}\n${next.cert.trim()}\n`,
          stagedAtMs: now,
        };
      }
      case 'promote-ca': {
        if (!material.nextCa) return undefined;
        const serving = await this.issueServing(material.nextCa);
        return {
          ...material,
          caCert: material.nextCa.cert,
          caKey: material.nextCa.key,
          nextCa: undefined,
          servingCert: serving.cert,
          servingKey: serving.key,
          stagedAtMs: undefined,
          promotedAtMs: now,
        };
      }
      case 'retire-old-ca':
        return { ...material, bundle: material.caCert, promotedAtMs: undefined };
      case 'renew-serving': {
        const serving = await this.issueServing({ cert: material.caCert, key: material.caKey });
        return { ...material, servingCert: serving.cert, servingKey: serving.key };
      }
      default:
        return undefined;
    }
  }

  /**
   * One round of the Lease holder's work: the configurations' entries trust the Secret's bundle, then at most one
   * rotation step (written with the resourceVersion read, so two holders never both write). The bundle goes into
   * the configurations before any replica can load a certificate that needs it.
   */
  async step(now = Date.now()): Promise<RotationStep> {
    const { material, resourceVersion, exists } = await this.read();
    if (material) await this.register(material.bundle);
    const step = nextRotationStep(material, now, this.times);
    if (step === 'none') return step;
    const next = await this.apply(step, material, now);
    if (!next) return 'none';
    // A bundle that grows is registered before the Secret says to sign with the new CA; one that shrinks, after.
    if (step === 'create' || step === 'stage-ca') await this.register(next.bundle);
    const { data, annotations } = encode(next);
    const metadata = {
      name: this.options.secretName,
      namespace: this.options.namespace,
      annotations,
      ...(resourceVersion ? { resourceVersion } : {}),
    };
    const body = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata, data };
    if (exists) await callApi(this.config, { method: 'PUT', path: this.secretPath, body });
    else await callApi(this.config, { method: 'POST', path: this.secretPath.replace(/\/[^/]+$/, ''), body });
    if (step === 'retire-old-ca') await this.register(next.bundle);
    this.logger.info(
      {
        step,
        secret: `${this.options.namespace}/${this.options.secretName}`,
        caExpires: new X509Certificate(next.caCert).validTo,
      },
      'webhook certificates: rotation step written',
    );
    return step;
  }

  /**
   * Writes the webhook entry of both configurations where the stored one differs from the registration (a helm
   * upgrade or a hand edit is undone within a round). A configuration that is not installed, or was uninstalled,
   * is left alone: the webhook never creates one, so uninstalling takes it out of the write path for good.
   */
  async register(bundle: string): Promise<void> {
    const registration = this.options.registration(bundle);
    for (const type of CONFIGURATION_TYPES) {
      const path = `/apis/admissionregistration.k8s.io/v1/${configurationResource(type)}/${encodeURIComponent(this.options.configuration)}`;
      let configuration: JsonObject;
      try {
        configuration = await callApi(this.config, { method: 'GET', path });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) continue;
        throw error;
      }
      const webhooks = [webhookEntry(type, registration)];
      if (setsAll(arrayAt(configuration, 'webhooks'), webhooks)) continue;
      await callApi(this.config, { method: 'PUT', path, body: { ...configuration, webhooks } });
      this.logger.info(
        {
          configuration: `${configurationResource(type)}/${this.options.configuration}`,
          failurePolicy: registration.failurePolicy,
          cas: certificatesOf(bundle).length,
        },
        'webhook configuration registered',
      );
    }
  }
}

/**
 * Every replica: waits for the Secret's serving certificate, then follows it. The Lease holder rotates on a
 * timer. `onServing` gets each new pair (the first one before the listener starts).
 */
export class SelfManagedCertificates {
  private timer: NodeJS.Timeout | undefined;
  private served: string | undefined;
  private stopped = false;
  notAfter = new Date(0);

  constructor(
    private readonly authority: CertificateAuthority,
    private readonly elector: LeaseElector,
    private readonly logger: Logger,
    private readonly pollMs = 5_000,
  ) {}

  /** Resolves with the first serving pair (the Lease holder creates the Secret when there is none); `onServing` gets the later ones. */
  async start(onServing: (pair: KeyPair) => void): Promise<KeyPair> {
    this.elector.start();
    for (;;) {
      if (this.stopped) throw new Error('stopped before a serving certificate was available');
      const first = await this.round(onServing).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'webhook certificates: not available yet; retrying');
        return undefined;
      });
      if (first) {
        this.schedule(onServing);
        return first;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  private schedule(onServing: (pair: KeyPair) => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.round(onServing)
        .catch((error: unknown) => this.logger.error({ err: error }, 'webhook certificates: round failed; retrying'))
        .finally(() => this.schedule(onServing));
    }, this.pollMs);
    this.timer.unref();
  }

  /** The holder's step, then what the Secret says to serve. */
  private async round(onServing: (pair: KeyPair) => void): Promise<KeyPair | undefined> {
    if (this.elector.isLeader) await this.authority.step();
    const { material } = await this.authority.read();
    if (!material) return undefined;
    const pair = { cert: material.servingCert, key: material.servingKey };
    if (pair.cert !== this.served) {
      const first = this.served === undefined;
      this.served = pair.cert;
      this.notAfter = new Date(new X509Certificate(pair.cert).validTo);
      if (!first) onServing(pair);
      this.logger.info(
        { notAfter: this.notAfter.toISOString() },
        'webhook certificates: serving the certificate from the Secret',
      );
    }
    return pair;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.elector.stop();
  }
}
