// Generated from schema/storage-policy.schema.json, schema/storage-policy-exception.schema.json, schema/storage-policy-test.schema.json by test/lint/schema-types.ts (npm run generate). Do not edit:
// change the schema and regenerate; npm run lint fails while this file and the schemas disagree.

/**
 * deny the request, warn (allowed, kubectl prints Warning:), or audit (allowed, recorded in auditAnnotations and the log).
 */
export type Action = 'deny' | 'warn' | 'audit';

/**
 * A storage guardrail for PersistentVolumeClaims, StatefulSet volumeClaimTemplates and StorageClasses, enforced by storage-policy-webhook.
 */
export interface StoragePolicy {
  /**
   * Always storage-policy-webhook.io/v1alpha1.
   */
  apiVersion: 'storage-policy-webhook.io/v1alpha1';
  /**
   * Always StoragePolicy.
   */
  kind: 'StoragePolicy';
  /**
   * Identifies the policy; its name appears in every message it causes.
   */
  metadata: {
    /**
     * Unique name of the policy (a DNS label).
     */
    name: string;
    /**
     * Free-form annotations. storage-policy-webhook.io/owner names who answers for the policy; lint asks for it on warn and audit rules.
     */
    annotations?: {
      [k: string]: string;
    };
  };
  spec: {
    /**
     * What the policy is for, shown by explain.
     */
    description?: string;
    /**
     * Precedence among matching policies for mutations (defaults, zone pinning): higher wins, ties go to the name that sorts first. Validation applies every matching policy.
     */
    priority?: number;
    /**
     * What a violation of this policy does: deny the request, warn (allowed, kubectl prints Warning:), or audit (allowed, recorded in auditAnnotations and the log).
     */
    action?: 'deny' | 'warn' | 'audit';
    /**
     * RFC 3339 instant from which this policy's deny findings deny. Before it they are warnings that say "enforced from <instant>" (admission, the audit as warn, the CLI alike; --now previews a date). Remove it once passed (lint warns).
     */
    enforceFrom?: string;
    /**
     * What StoragePolicyExceptions may do with this policy; loading refuses one that breaks it.
     */
    exceptions?: {
      /**
       * false: no exception may name this policy.
       */
      allowed?: boolean;
      /**
       * The longest an exception may run, from when it is loaded; a permanent one is refused.
       */
      maxDays?: number;
    };
    /**
     * What to do when a decision needs cluster data (a StorageClass, namespace labels, a namespace IOPS sum) that neither the cluster cache nor the inventory can give.
     */
    lookupFailure?: 'allow' | 'warn' | 'deny';
    /**
     * Per-rule action overrides, by rule id, for rolling one rule out in warn mode first.
     */
    rules?: {
      'storage-class/allowed'?: Action;
      'storage-class/single-default'?: Action;
      'storage-class/missing'?: Action;
      'storage-class/empty-class'?: Action;
      'storage-class/required'?: Action;
      'storage-class/denied'?: Action;
      'access-modes/required'?: Action;
      'access-modes/unsupported'?: Action;
      'access-modes/read-write-once-pod-exclusive'?: Action;
      'access-modes/read-only-with-read-write-once'?: Action;
      'access-modes/unknown-provisioner'?: Action;
      'access-modes/caution'?: Action;
      'access-modes/not-allowed'?: Action;
      'zones/class-topology'?: Action;
      'zones/unrestricted-immediate'?: Action;
      'zones/claim-class'?: Action;
      'zones/pod-affinity'?: Action;
      'zones/deprecated-label'?: Action;
      'zones/no-nodes'?: Action;
      'zones/class-translation'?: Action;
      'zones/volume'?: Action;
      'iops/per-gb-format'?: Action;
      'iops/per-gb-type'?: Action;
      'iops/per-gb-maximum'?: Action;
      'iops/iops-and-per-gb'?: Action;
      'iops/below-minimum'?: Action;
      'iops/adjusted'?: Action;
      'iops/volume-budget'?: Action;
      'iops/namespace-budget'?: Action;
      'iops/throughput-type'?: Action;
      'iops/throughput-limits'?: Action;
      'iops/throughput-volume-budget'?: Action;
      'iops/throughput-namespace-budget'?: Action;
      'capacity/request-missing'?: Action;
      'capacity/type-limits'?: Action;
      'capacity/policy-limits'?: Action;
      'claim-metadata/required'?: Action;
      'class-requirements/reclaim-policy'?: Action;
      'class-requirements/volume-expansion'?: Action;
      'class-requirements/binding-mode'?: Action;
      'class-requirements/provisioner'?: Action;
      'class-requirements/parameter'?: Action;
      'class-requirements/mount-options'?: Action;
      'attributes-class/allowed'?: Action;
      'attributes-class/driver'?: Action;
      'attributes-class/missing'?: Action;
      'attributes-class/limits'?: Action;
      'lookup/unavailable'?: Action;
      'persistent-volumes/access-modes'?: Action;
      'persistent-volumes/source'?: Action;
      'persistent-volumes/csi-driver'?: Action;
      'persistent-volumes/reclaim-policy'?: Action;
      'persistent-volumes/capacity'?: Action;
      'persistent-volumes/labels'?: Action;
      'persistent-volumes/pre-bound'?: Action;
      'data-sources/restore-size'?: Action;
      'data-sources/restore-driver'?: Action;
      'cost/claim-budget'?: Action;
      'cost/namespace-budget'?: Action;
      'cost/estimate'?: Action;
      'cost/idle'?: Action;
      'inline-volumes/csi-driver'?: Action;
      'data-sources/kind'?: Action;
      'data-sources/clone-size'?: Action;
      'data-sources/clone-volume-mode'?: Action;
      'data-sources/clone-driver'?: Action;
    };
    /**
     * Which objects the policy governs. Namespace criteria apply to PersistentVolumeClaims and StatefulSets; StorageClasses are cluster-scoped and governed only when kinds lists StorageClass.
     */
    match: {
      /**
       * Namespace names or globs (* any run of characters, ? one character). Absent: every namespace.
       */
      namespaces?: string[];
      /**
       * Names or globs that are never governed, even when namespaces matches.
       */
      excludeNamespaces?: string[];
      /**
       * A label selector over the namespace labels (from the cluster cache, or the inventory offline).
       */
      namespaceSelector?: {
        matchLabels?: {
          [k: string]: string;
        };
        matchExpressions?: {
          key: string;
          operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
          values?: string[];
        }[];
      };
      /**
       * Kinds governed. Default: the kinds that make claims: PersistentVolumeClaim, StatefulSet (its volumeClaimTemplates), and Pod, Deployment, ReplicaSet, DaemonSet, Job and CronJob (the generic ephemeral volumes of their pod spec, judged as the claims the ephemeral-volume controller makes of them, and their CSI inline volumes). PersistentVolume governs statically provisioned volumes (section persistentVolumes; the class lists and zones apply to them too).
       *
       * @minItems 1
       */
      kinds?: (
        | 'PersistentVolumeClaim'
        | 'StatefulSet'
        | 'StorageClass'
        | 'VolumeAttributesClass'
        | 'PersistentVolume'
        | 'Pod'
        | 'Deployment'
        | 'ReplicaSet'
        | 'DaemonSet'
        | 'Job'
        | 'CronJob'
      )[];
    };
    /**
     * Family 1: default class and allowed classes.
     */
    storageClasses?: {
      /**
       * Ordered choices for a claim with no class; the first whose conditions hold is set. Claims with storageClassName: "" or the legacy class annotation are never touched.
       *
       * @minItems 1
       */
      defaults?: {
        /**
         * The StorageClass to set.
         */
        class: string;
        /**
         * Applies when the claim asks for any of these modes.
         *
         * @minItems 1
         */
        whenAccessModes?: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
        /**
         * Applies only to claims of this volumeMode (absent means Filesystem).
         */
        whenVolumeMode?: 'Filesystem' | 'Block';
      }[];
      /**
       * The only classes claims may use; others are denied with this list in the message.
       *
       * @minItems 1
       */
      allowed?: string[];
      /**
       * A StorageClass may not become a second cluster default (rule storage-class/single-default). Needs kinds to include StorageClass.
       */
      singleClusterDefault?: boolean;
      /**
       * Classes claims may not use (rule storage-class/denied), beside or instead of allowed.
       *
       * @minItems 1
       */
      denied?: string[];
      /**
       * Deny a claim that ends with no class at all: none written, no default from a policy or the cluster (rule storage-class/required). An alternative to defaults.
       */
      required?: boolean;
      /**
       * storageClassName: "" asks for no dynamic provisioning (binding to a pre-created volume). allow (default): not judged by allowed/denied; deny: rule storage-class/empty-class.
       */
      emptyClass?: 'allow' | 'deny';
      /**
       * A claim naming a class the cluster does not have stays Pending (rule storage-class/missing).
       */
      missingClass?: 'allow' | 'warn' | 'deny';
      /**
       * On CREATE, a claim naming a class that is not allowed (or denied) is rewritten to this class, with a warning, instead of denied. PersistentVolumeClaims only: StatefulSet templates are never written.
       */
      fallback?: string;
    };
    /**
     * Family 2: access modes the provisioner can serve.
     */
    accessModes?: {
      /**
       * What a claim on a class whose provisioner is in no capability table gets.
       */
      unknownProvisioner?: 'allow' | 'warn' | 'deny';
      /**
       * Entries that extend or replace the built-in capability table, per provisioner.
       */
      capabilities?: {
        provisioner: string;
        /**
         * Modes always served.
         */
        modes: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
        /**
         * Volume modes served; absent means both.
         *
         * @minItems 1
         */
        volumeModes?: ('Filesystem' | 'Block')[];
        /**
         * A CSI driver: ReadOnlyMany together with ReadWriteOnce is rejected.
         */
        csi?: boolean;
        conditional?: {
          mode: 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
          volumeMode?: 'Filesystem' | 'Block';
          /**
           * StorageClass parameters (case-insensitive keys) that must hold one of the values.
           */
          parameters?: {
            [k: string]: string[];
          };
          minimumParameters?: {
            [k: string]: number;
          };
          /**
           * Human-readable condition, quoted in the message.
           */
          condition: string;
          /**
           * Served, but with care the webhook cannot check: allowed with a warning.
           */
          caution?: boolean;
        }[];
      }[];
      /**
       * The only access modes claims may ask for (rule access-modes/not-allowed), e.g. [ReadWriteOncePod].
       *
       * @minItems 1
       */
      allowed?: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
      /**
       * Access modes claims may not ask for (rule access-modes/not-allowed), e.g. [ReadWriteMany].
       *
       * @minItems 1
       */
      denied?: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
    };
    /**
     * Family 3: zone pinning.
     */
    zones?: {
      /**
       * Zones where volumes may be provisioned and pods may run.
       *
       * @minItems 1
       */
      allowed: string[];
      /**
       * On StorageClass CREATE, add allowedTopologies with the allowed zones when the class has no topology restriction.
       */
      addAllowedTopologies?: boolean;
      /**
       * Add a required nodeAffinity on topology.kubernetes.io/zone to StatefulSet pod templates.
       */
      pinStatefulSets?: boolean;
    };
    /**
     * Family 4: provisioned IOPS and throughput of EBS classes (iopsPerGB, iops, throughput), quoted per claim.
     */
    iops?: {
      /**
       * Largest provisioned IOPS one claim may get.
       */
      maxPerVolume?: number;
      /**
       * Largest sum of provisioned IOPS over the claims of a namespace.
       */
      maxPerNamespace?: number;
      /**
       * Largest provisioned throughput (MiB/s) one claim may get (gp3: the class's throughput, or the 125 MiB/s baseline).
       */
      maxThroughputPerVolume?: number;
      /**
       * Largest sum of provisioned throughput (MiB/s) over the claims of a namespace.
       */
      maxThroughputPerNamespace?: number;
      /**
       * Write the quotes onto the claim: storage-policy-webhook.io/provisioned-iops and storage-policy-webhook.io/provisioned-throughput.
       */
      annotateQuote?: boolean;
    };
    /**
     * Claim sizes: the policy bounds (EBS type limits are always checked).
     */
    capacity?: {
      /**
       * A Kubernetes quantity such as 10Gi or 500G.
       */
      min?: string;
      /**
       * A Kubernetes quantity such as 10Gi or 500G.
       */
      max?: string;
    };
    /**
     * Provider limits that differ from the built-in facts table: a region's gp3 cap, a cluster still on an older driver. The highest-precedence policy that overrides a volume type sets its limits.
     */
    providerLimits?: {
      /**
       * Per EBS volume type (gp3, io1, io2, gp2, st1, sc1, standard).
       */
      ebs?: {
        /**
         * Limits of one EBS volume type that replace the built-in facts table (docs/storage-facts.md); fields left out keep it.
         */
        [k: string]: {
          /**
           * Smallest volume, GiB.
           */
          minGiB?: number;
          /**
           * Largest volume, GiB.
           */
          maxGiB?: number;
          /**
           * Fewest provisioned IOPS EC2 accepts.
           */
          minIops?: number;
          /**
           * Most provisioned IOPS a volume gets (the driver caps there), e.g. a region's gp3 cap.
           */
          maxIops?: number;
          /**
           * Most provisioned IOPS per GiB.
           */
          maxIopsPerGiB?: number;
          /**
           * Most throughput EC2 accepts, MiB/s (gp3).
           */
          maxThroughput?: number;
          /**
           * Most throughput per provisioned IOPS, MiB/s (gp3: 0.25).
           */
          maxThroughputPerIops?: number;
        };
      };
    };
    /**
     * Labels and annotations claims (and StatefulSet templates) must carry (rule claim-metadata/required).
     */
    claimMetadata?: {
      /**
       * @minItems 1
       *
       * Items: One label or annotation (exactly one of the two keys).
       */
      required: {
        /**
         * A label key the claim must have.
         */
        label?: string;
        /**
         * An annotation key the claim must have.
         */
        annotation?: string;
        /**
         * A regular expression (JavaScript syntax) the whole value must match; absent: any value.
         */
        pattern?: string;
        /**
         * Only check the value when the key is there (Kyverno's =() anchor).
         */
        ifPresent?: boolean;
        /**
         * Only for claims on these classes.
         *
         * @minItems 1
         */
        whenClasses?: string[];
      }[];
    };
    /**
     * What StorageClasses must look like (needs StorageClass in match.kinds).
     */
    classRequirements?: {
      /**
       * Allowed reclaimPolicy (absent in the class: Delete, the API server's default). Rule class-requirements/reclaim-policy.
       *
       * @minItems 1
       */
      reclaimPolicies?: ('Delete' | 'Retain' | 'Recycle')[];
      /**
       * Rule class-requirements/volume-expansion.
       */
      allowVolumeExpansion?: 'required' | 'forbidden';
      /**
       * Required binding mode (absent in the class: Immediate). Rule class-requirements/binding-mode.
       */
      volumeBindingMode?: 'Immediate' | 'WaitForFirstConsumer';
      /**
       * Allowed provisioners. Rule class-requirements/provisioner.
       *
       * @minItems 1
       */
      provisioners?: string[];
      /**
       * Required parameters and their allowed values, e.g. EBS encrypted: "true". Rule class-requirements/parameter.
       *
       * @minItems 1
       */
      parameters?: {
        /**
         * Only for classes of this provisioner; absent: any.
         */
        provisioner?: string;
        /**
         * Parameter name (compared case-insensitively).
         */
        name: string;
        /**
         * Allowed values.
         *
         * @minItems 1
         */
        values?: string[];
        /**
         * A regular expression the whole value must match.
         */
        pattern?: string;
        /**
         * Only check the value when the parameter is set.
         */
        optional?: boolean;
      }[];
      /**
       * Allowed mount options. Rule class-requirements/mount-options.
       *
       * @minItems 1
       */
      mountOptions?: string[];
    };
    /**
     * VolumeAttributesClasses (storage.k8s.io/v1): which ones claims may name, a default, and (with VolumeAttributesClass in match.kinds) EBS type, iops and throughput of the VAC objects within the provider limits.
     */
    volumeAttributesClasses?: {
      /**
       * The VolumeAttributesClasses claims may name (rule attributes-class/allowed).
       *
       * @minItems 1
       */
      allowed?: string[];
      /**
       * Set on a PersistentVolumeClaim created without one, when its class's driver is the VAC's.
       */
      default?: string;
    };
    /**
     * What statically provisioned PersistentVolumes may be (an administrator's NFS export, hostPath, local disk or CSI volume handle). Needs match.kinds to include PersistentVolume. Volumes a provisioner made for a claim (annotation pv.kubernetes.io/provisioned-by) are not judged: their claim was. Access modes the volume source can never serve are denied for every governing policy (rule persistent-volumes/access-modes).
     */
    persistentVolumes?: {
      /**
       * Volume sources a PersistentVolume may use, by their field name in spec (rule persistent-volumes/source).
       *
       * @minItems 1
       */
      sources?: (
        | 'awsElasticBlockStore'
        | 'azureDisk'
        | 'azureFile'
        | 'cephfs'
        | 'cinder'
        | 'csi'
        | 'fc'
        | 'flexVolume'
        | 'flocker'
        | 'gcePersistentDisk'
        | 'glusterfs'
        | 'hostPath'
        | 'iscsi'
        | 'local'
        | 'nfs'
        | 'photonPersistentDisk'
        | 'portworxVolume'
        | 'quobyte'
        | 'rbd'
        | 'scaleIO'
        | 'storageos'
        | 'vsphereVolume'
      )[];
      /**
       * CSI drivers a csi volume may name in spec.csi.driver (rule persistent-volumes/csi-driver).
       *
       * @minItems 1
       */
      csiDrivers?: string[];
      /**
       * Reclaim policies allowed (rule persistent-volumes/reclaim-policy); an absent spec.persistentVolumeReclaimPolicy is Retain, as the API server defaults it. Recycle is deprecated.
       *
       * @minItems 1
       */
      reclaimPolicies?: ('Delete' | 'Retain' | 'Recycle')[];
      /**
       * Bounds on spec.capacity.storage (rule persistent-volumes/capacity).
       */
      capacity?: {
        /**
         * A Kubernetes quantity such as 10Gi or 500G.
         */
        min?: string;
        /**
         * A Kubernetes quantity such as 10Gi or 500G.
         */
        max?: string;
      };
      /**
       * Label keys every PersistentVolume must carry (rule persistent-volumes/labels).
       *
       * @minItems 1
       */
      requiredLabels?: string[];
    };
    /**
     * List prices that override the built-in table (AWS's us-east-1 On-Demand prices, docs/storage-facts.md), per EBS volume type and for EFS: another region, a negotiated rate. The highest-precedence policy's entry wins per type. storage-policy prices import writes this block from AWS's price files.
     */
    prices?: {
      /**
       * The currency of every price here, shown with each cost.
       */
      currency?: string;
      /**
       * Per EBS volume type (the class's type parameter).
       */
      ebs?: {
        [k: string]: {
          /**
           * Storage, per GiB-month (AWS's GB-month of EBS is a GiB).
           */
          perGiBMonth: number;
          /**
           * Per provisioned IOPS-month: every IOPS (io1, io2) or those above the free 3,000 (gp3); tiers in order, each up to an IOPS count, the last without (io2: up to 32000, up to 64000, the rest).
           */
          perIopsMonth?:
            | number
            | {
                upTo?: number;
                price: number;
              }[];
          /**
           * Per MiB/s-month above the free 125 (gp3).
           */
          perMiBpsMonth?: number;
        };
      };
      efs?: {
        /**
         * EFS Standard storage, per GiB-month: what EFS claims are quoted at (EFS is elastic: quoted for the requested size).
         */
        standardPerGiBMonth: number;
        infrequentAccessPerGiBMonth?: number;
        oneZonePerGiBMonth?: number;
        oneZoneInfrequentAccessPerGiBMonth?: number;
      };
    };
    /**
     * Budgets in money, per month in the price table's currency: a claim, a StatefulSet or workload template (times its replicas), a resize or a VolumeAttributesClass switch that would go over is denied (or warned, per action) with the arithmetic. Claims get the storage-policy-webhook.io/monthly-cost annotation with the IOPS quote (iops.annotateQuote), or with this section.
     */
    cost?: {
      /**
       * The most one claim may cost a month (rule cost/claim-budget).
       */
      maxPerClaim?: number;
      /**
       * The most a namespace's claims may cost a month together, its existing claims from the live cache (rule cost/namespace-budget).
       */
      maxPerNamespace?: number;
      /**
       * How long a bound claim may go unused (no pod uses it: the Unused condition Kubernetes 1.37 sets, KEP-5541) before the audit reports it idle with its monthly cost (rule cost/idle, a warning), e.g. 720h. A Go duration: h, m, s, ms.
       */
      idleAfter?: string;
    };
    /**
     * Volumes written inline in a pod spec (a Pod's, or the pod template of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob) that reach storage without a claim. Needs match.kinds to include the pod-carrying kinds (the default does).
     */
    inlineVolumes?: {
      /**
       * CSI drivers a CSI inline volume (volumes[].csi) may name in its driver (rule inline-volumes/csi-driver); an empty list allows none.
       */
      csiDrivers?: string[];
    };
    /**
     * Claims made from something (spec.dataSourceRef or spec.dataSource): a clone of a claim, a restore from a VolumeSnapshot, a volume populator. Clones the CSI provisioner refuses (smaller than the source claim, another volumeMode, a class of another CSI driver) are denied for every governing policy (rules data-sources/clone-size, clone-volume-mode, clone-driver), and so are restores it refuses (smaller than the VolumeSnapshot's restoreSize, a class of another CSI driver than the snapshot content's: data-sources/restore-size, restore-driver).
     */
    dataSources?: {
      /**
       * Kinds a claim may be made from, e.g. [PersistentVolumeClaim, VolumeSnapshot] (rule data-sources/kind).
       *
       * @minItems 1
       */
      allowedKinds?: string[];
    };
  };
}

/**
 * Exempts named workloads from named rules of named policies, with an owner, a reason and an expiry. Kept in the policy folder, in git, beside the policies.
 */
export interface StoragePolicyException {
  /**
   * Always storage-policy-webhook.io/v1alpha1.
   */
  apiVersion: 'storage-policy-webhook.io/v1alpha1';
  /**
   * Always StoragePolicyException.
   */
  kind: 'StoragePolicyException';
  /**
   * Identifies the exception; its name appears in every warning it causes.
   */
  metadata: {
    /**
     * A DNS subdomain name, unique among exceptions.
     */
    name: string;
    annotations?: {
      [k: string]: string;
    };
  };
  spec: {
    /**
     * Who answers for the exception (a team address).
     */
    owner: string;
    /**
     * Why, e.g. a ticket: shown in every warning.
     */
    reason: string;
    /**
     * RFC 3339 instant the exception ends, at the same instant in admission, the audit and the CLI. Required unless permanent: true.
     */
    expiresAt?: string;
    /**
     * No expiry (a policy's exceptions.maxDays refuses it).
     */
    permanent?: boolean;
    /**
     * The policies it exempts from.
     *
     * @minItems 1
     */
    policies: {
      /**
       * A policy name.
       */
      name: string;
      /**
       * Rule ids exempted; absent: every rule of the policy (and its mutations).
       *
       * @minItems 1
       */
      rules?: (
        | 'storage-class/allowed'
        | 'storage-class/single-default'
        | 'storage-class/missing'
        | 'storage-class/empty-class'
        | 'storage-class/required'
        | 'storage-class/denied'
        | 'access-modes/required'
        | 'access-modes/unsupported'
        | 'access-modes/read-write-once-pod-exclusive'
        | 'access-modes/read-only-with-read-write-once'
        | 'access-modes/unknown-provisioner'
        | 'access-modes/caution'
        | 'access-modes/not-allowed'
        | 'zones/class-topology'
        | 'zones/unrestricted-immediate'
        | 'zones/claim-class'
        | 'zones/pod-affinity'
        | 'zones/deprecated-label'
        | 'zones/no-nodes'
        | 'zones/class-translation'
        | 'zones/volume'
        | 'iops/per-gb-format'
        | 'iops/per-gb-type'
        | 'iops/per-gb-maximum'
        | 'iops/iops-and-per-gb'
        | 'iops/below-minimum'
        | 'iops/adjusted'
        | 'iops/volume-budget'
        | 'iops/namespace-budget'
        | 'iops/throughput-type'
        | 'iops/throughput-limits'
        | 'iops/throughput-volume-budget'
        | 'iops/throughput-namespace-budget'
        | 'capacity/request-missing'
        | 'capacity/type-limits'
        | 'capacity/policy-limits'
        | 'claim-metadata/required'
        | 'class-requirements/reclaim-policy'
        | 'class-requirements/volume-expansion'
        | 'class-requirements/binding-mode'
        | 'class-requirements/provisioner'
        | 'class-requirements/parameter'
        | 'class-requirements/mount-options'
        | 'attributes-class/allowed'
        | 'attributes-class/driver'
        | 'attributes-class/missing'
        | 'attributes-class/limits'
        | 'lookup/unavailable'
        | 'persistent-volumes/access-modes'
        | 'persistent-volumes/source'
        | 'persistent-volumes/csi-driver'
        | 'persistent-volumes/reclaim-policy'
        | 'persistent-volumes/capacity'
        | 'persistent-volumes/labels'
        | 'persistent-volumes/pre-bound'
        | 'data-sources/restore-size'
        | 'data-sources/restore-driver'
        | 'cost/claim-budget'
        | 'cost/namespace-budget'
        | 'cost/estimate'
        | 'cost/idle'
        | 'inline-volumes/csi-driver'
        | 'data-sources/kind'
        | 'data-sources/clone-size'
        | 'data-sources/clone-volume-mode'
        | 'data-sources/clone-driver'
      )[];
    }[];
    /**
     * The objects it covers: every condition given must hold.
     */
    match: {
      /**
       * The kinds the exception covers; absent: every kind.
       *
       * @minItems 1
       */
      kinds?: (
        | 'PersistentVolumeClaim'
        | 'StatefulSet'
        | 'StorageClass'
        | 'VolumeAttributesClass'
        | 'PersistentVolume'
        | 'Pod'
        | 'Deployment'
        | 'ReplicaSet'
        | 'DaemonSet'
        | 'Job'
        | 'CronJob'
      )[];
      /**
       * Namespace names or globs (* and ?); absent: every namespace.
       *
       * @minItems 1
       */
      namespaces?: string[];
      /**
       * Object names or globs, e.g. data-ledger-* for the claims of StatefulSet ledger.
       *
       * @minItems 1
       */
      names?: string[];
      /**
       * A label selector over the object's labels (a claim the StatefulSet controller creates carries its template's labels).
       */
      labelSelector?: {
        matchLabels?: {
          [k: string]: string;
        };
        matchExpressions?: {
          key: string;
          operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
          values?: string[];
        }[];
      };
    };
  };
}

/**
 * A test suite for storage policies, run by storage-policy test: resources, and what the webhook must answer for each.
 */
export interface StoragePolicyTest {
  apiVersion: 'storage-policy-webhook.io/v1alpha1';
  kind: 'StoragePolicyTest';
  metadata: {
    /**
     * Suite name, printed before each case.
     */
    name: string;
  };
  spec: {
    /**
     * Policy files or folders, relative to this file. Default: the folder above it.
     */
    policies?: string[];
    /**
     * YAML files or folders of StorageClasses, Namespaces and PVCs standing in for the cluster, relative to this file.
     */
    inventory?: string[];
    /**
     * @minItems 1
     */
    cases: {
      name: string;
      /**
       * The object as submitted: any governed kind (a PersistentVolumeClaim, a StatefulSet, a Pod or workload, a StorageClass, ...).
       */
      resource: { [key: string]: unknown };
      operation?: 'CREATE' | 'UPDATE';
      /**
       * For UPDATE: the stored object.
       */
      oldResource?: { [key: string]: unknown };
      /**
       * Namespace when the resource names none (default: default).
       */
      namespace?: string;
      /**
       * The user the API server names as making the request (userInfo.username), e.g. system:serviceaccount:kube-system:ephemeral-volume-controller for a claim that controller creates for a pod. Default: none (a person).
       */
      requester?: string;
      expect: {
        decision: 'allowed' | 'denied';
        /**
         * Fragments that must each appear in the denial.
         */
        messages?: string[];
        /**
         * Fragments that must each appear in some warning.
         */
        warnings?: string[];
        /**
         * Rule ids (findings) and mutation ids (storage-class/default, iops/quote, zones/pin, ...) that must fire; docs/policies.md lists both.
         */
        rules?: (
          | 'storage-class/allowed'
          | 'storage-class/single-default'
          | 'storage-class/missing'
          | 'storage-class/empty-class'
          | 'storage-class/required'
          | 'storage-class/denied'
          | 'access-modes/required'
          | 'access-modes/unsupported'
          | 'access-modes/read-write-once-pod-exclusive'
          | 'access-modes/read-only-with-read-write-once'
          | 'access-modes/unknown-provisioner'
          | 'access-modes/caution'
          | 'access-modes/not-allowed'
          | 'zones/class-topology'
          | 'zones/unrestricted-immediate'
          | 'zones/claim-class'
          | 'zones/pod-affinity'
          | 'zones/deprecated-label'
          | 'zones/no-nodes'
          | 'zones/class-translation'
          | 'zones/volume'
          | 'iops/per-gb-format'
          | 'iops/per-gb-type'
          | 'iops/per-gb-maximum'
          | 'iops/iops-and-per-gb'
          | 'iops/below-minimum'
          | 'iops/adjusted'
          | 'iops/volume-budget'
          | 'iops/namespace-budget'
          | 'iops/throughput-type'
          | 'iops/throughput-limits'
          | 'iops/throughput-volume-budget'
          | 'iops/throughput-namespace-budget'
          | 'capacity/request-missing'
          | 'capacity/type-limits'
          | 'capacity/policy-limits'
          | 'claim-metadata/required'
          | 'class-requirements/reclaim-policy'
          | 'class-requirements/volume-expansion'
          | 'class-requirements/binding-mode'
          | 'class-requirements/provisioner'
          | 'class-requirements/parameter'
          | 'class-requirements/mount-options'
          | 'attributes-class/allowed'
          | 'attributes-class/driver'
          | 'attributes-class/missing'
          | 'attributes-class/limits'
          | 'lookup/unavailable'
          | 'persistent-volumes/access-modes'
          | 'persistent-volumes/source'
          | 'persistent-volumes/csi-driver'
          | 'persistent-volumes/reclaim-policy'
          | 'persistent-volumes/capacity'
          | 'persistent-volumes/labels'
          | 'persistent-volumes/pre-bound'
          | 'data-sources/restore-size'
          | 'data-sources/restore-driver'
          | 'cost/claim-budget'
          | 'cost/namespace-budget'
          | 'cost/estimate'
          | 'cost/idle'
          | 'inline-volumes/csi-driver'
          | 'data-sources/kind'
          | 'data-sources/clone-size'
          | 'data-sources/clone-volume-mode'
          | 'data-sources/clone-driver'
          | 'storage-class/default'
          | 'storage-class/restore'
          | 'storage-class/fallback'
          | 'zones/pin'
          | 'zones/replace-deprecated-label'
          | 'zones/add-allowed-topologies'
          | 'iops/quote'
          | 'attributes-class/default'
          | 'cost/quote'
        )[];
        /**
         * A partial object the patched object must contain.
         */
        patched?: { [key: string]: unknown };
        /**
         * The webhook must not patch the resource.
         */
        unchanged?: boolean;
      };
    }[];
  };
}
