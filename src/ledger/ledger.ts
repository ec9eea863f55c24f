/**
 * The job ledger (SPEC §3.3): one record per job id, so that a job sends at most one reply.
 *
 * running ──▶ reply_pending ──▶ sent
 *    └────────────┴────────────▶ failed
 *
 * A lease (owner + expiry, renewed by heartbeat) says which worker holds the job. A delivery of a
 * job leased by a live worker is refused without side effects; an expired lease is taken over.
 * The reply's Message-ID is chosen at the first claim and kept, so after a crash in
 * `reply_pending` the provider can be asked whether that exact message was already accepted.
 */
export type JobState = 'running' | 'reply_pending' | 'sent' | 'failed';

export interface LedgerRecord {
  jobId: string;
  state: JobState;
  owner: string;
  leaseUntil: number;
  /**
   * Deliveries that ran this job: 1 at the first claim, +1 at every takeover. A delivery refused as
   * `busy` changes nothing (no side effects), so it is not counted. "Last delivery" decisions use
   * this figure: Pub/Sub reports `deliveryAttempt` only on subscriptions with a dead-letter policy.
   */
  deliveries: number;
  /**
   * When the job was first claimed, ms since the epoch (claimer's clock). The job deadline is
   * hardTimeout from here, whichever delivery or instance runs it.
   */
  firstClaimedAt: number;
  replyMessageId: string;
  /** Short outcome for finished jobs (error code or 'replied'). */
  outcome?: string;
  updatedAt: number;
}

export type ClaimStatus = 'claimed' | 'taken-over' | 'busy' | 'done';

export interface ClaimResult {
  status: ClaimStatus;
  record: LedgerRecord;
}

export interface Ledger {
  /**
   * Claims `jobId` for `owner` for `leaseMs`. `replyMessageId` is used only when the record is new.
   * `done` when the job already finished (sent or failed); `busy` when another owner's lease is live.
   */
  claim(jobId: string, owner: string, leaseMs: number, replyMessageId: string): Promise<ClaimResult>;
  /** Extends the lease; false when `owner` no longer holds it (taken over or finished). */
  renew(jobId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Marks that the reply is about to be sent; false when `owner` no longer holds the job. */
  markReplyPending(jobId: string, owner: string): Promise<boolean>;
  /** Records the final state; false when `owner` no longer holds the job. */
  finish(jobId: string, owner: string, state: 'sent' | 'failed', outcome: string): Promise<boolean>;
  /** Lets the lease lapse now (shutdown), so another worker may resume at once. */
  release(jobId: string, owner: string): Promise<void>;
  get(jobId: string): Promise<LedgerRecord | undefined>;
  /** Readiness probe. */
  ping(): Promise<void>;
}
