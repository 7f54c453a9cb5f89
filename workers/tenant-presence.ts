import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { TenantSinks } from '../workflows/shared.js';
import type { TenantShare } from '../activities/tenant-share.js';

/**
 * Tells the worker's tenant share which organisations have syncs under way
 * here: each activity of a sync run counts for the organisation its fairness
 * key names (the key the run scheduled it with) while it runs. A controller's
 * scheduled poll does not (a quiet source's poll must not hold a large sync
 * back every minute), and activities without a key are nobody's, as they are
 * to Temporal's matching.
 */
export function tenantPresence(share: TenantShare): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const org = ctx.info.workflowType === 'syncRun' ? ctx.info.priority?.fairnessKey : undefined;
        if (!org) return next(input);
        const startedAt = share.enter(org);
        try {
          return await next(input);
        } finally {
          share.leave(org, startedAt);
        }
      },
    },
  });
}

/** The sink workflows mark their organisation present through; never called on replay, so old tasks mark nobody. */
export function tenantSinks(share: TenantShare): InjectedSinks<TenantSinks> {
  return { tenants: { present: { fn: (_info, org) => share.touch(org), callDuringReplay: false } } };
}
