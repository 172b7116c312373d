import { arrayAt, stringAt } from './json.js';
import type { GovernedKind } from './kinds.js';

// The kube-controller-manager controllers that make governed objects from an owner's template: a ReplicaSet from a
// Deployment's, Pods from a ReplicaSet's, Job's, DaemonSet's or StatefulSet's, a Job from a CronJob's, and the claim
// of a Pod's generic ephemeral volume. What they make was judged where a person wrote it (the owner's CREATE, or
// the UPDATE that changed its volumes), or predates the policy; refusing it would leave a rollout, a scale-up or a
// pod stuck for a template nobody can change there. Each runs as its own ServiceAccount in kube-system with
// --use-service-account-credentials (the usual setup; the names are the bootstrap roles of kubernetes/kubernetes
// plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go), else as kube-controller-manager itself.

/** The user kube-controller-manager runs as without --use-service-account-credentials. */
const CONTROLLER_MANAGER_USER = 'system:kube-controller-manager';

interface ControllerMade {
  /** The controller's ServiceAccount name in kube-system. */
  serviceAccount: string;
  makes: GovernedKind;
  /** The kind of the controller ownerReference the object it makes carries. */
  owner: string;
}

const CONTROLLER_MADE: readonly ControllerMade[] = [
  { serviceAccount: 'deployment-controller', makes: 'ReplicaSet', owner: 'Deployment' },
  { serviceAccount: 'replicaset-controller', makes: 'Pod', owner: 'ReplicaSet' },
  { serviceAccount: 'job-controller', makes: 'Pod', owner: 'Job' },
  { serviceAccount: 'daemon-set-controller', makes: 'Pod', owner: 'DaemonSet' },
  { serviceAccount: 'statefulset-controller', makes: 'Pod', owner: 'StatefulSet' },
  { serviceAccount: 'cronjob-controller', makes: 'Job', owner: 'CronJob' },
  { serviceAccount: 'ephemeral-volume-controller', makes: 'PersistentVolumeClaim', owner: 'Pod' },
];

function userOf(serviceAccount: string): string {
  return `system:serviceaccount:kube-system:${serviceAccount}`;
}

/**
 * The users that make workload objects from templates (never claims): what the webhook configurations leave
 * unsent, as nothing is written on those objects and nothing there may be refused.
 */
export const WORKLOAD_CONTROLLER_USERS: readonly string[] = [
  ...CONTROLLER_MADE.filter((made) => made.makes !== 'PersistentVolumeClaim').map((made) =>
    userOf(made.serviceAccount),
  ),
  CONTROLLER_MANAGER_USER,
];

/** The controller ownerReference's kind, when the object has one. */
function controllerOwnerKind(object: unknown): string | undefined {
  const owner = (arrayAt(object, 'metadata', 'ownerReferences') ?? []).find(
    (reference) =>
      typeof reference === 'object' &&
      reference !== null &&
      'controller' in reference &&
      reference['controller'] === true,
  );
  return stringAt(owner, 'kind');
}

/**
 * Whether a CREATE is a controller making the object from its owner's template: the request's user is the
 * controller that makes this kind, and the object names an owner of the kind it makes it from as its controller.
 * Both are needed: a person may write an ownerReference, but not act as a kube-system controller's ServiceAccount
 * without the rights to do everything that controller does.
 */
export function madeByController(kind: GovernedKind, object: unknown, requester: string | undefined): boolean {
  if (requester === undefined) return false;
  const owner = controllerOwnerKind(object);
  return CONTROLLER_MADE.some(
    (made) =>
      made.makes === kind &&
      made.owner === owner &&
      (requester === userOf(made.serviceAccount) || requester === CONTROLLER_MANAGER_USER),
  );
}
