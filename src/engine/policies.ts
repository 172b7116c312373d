import { loadPolicyDir, parsePolicyText } from '../policy/load.js';
import type { Policy, PolicyProblem } from '../policy/model.js';
import { RULE_FAMILIES } from '../rules/registry.js';

// Policies as every edge loads them: the schema, then what each rule family checks of its own sections. The policy
// layer sits below the rules and takes the checks as an argument; this is the one place that passes them.

/** What every family checks of a policy beyond the schema (a family whose section the policy lacks finds nothing). */
function familyChecks(policy: Policy): PolicyProblem[] {
  return RULE_FAMILIES.flatMap((family) => family.checkPolicy?.(policy) ?? []);
}

/** A policy folder, loaded and checked as a set: any problem rejects it (PolicyLoadError). */
export const loadPolicies = (dir: string): ReturnType<typeof loadPolicyDir> => loadPolicyDir(dir, familyChecks);

/** The policies and exceptions of one file's text, with the problems found. */
export const parsePolicies = (text: string, file: string): ReturnType<typeof parsePolicyText> =>
  parsePolicyText(text, file, familyChecks);
