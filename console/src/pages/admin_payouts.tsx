// Admin payouts: filters and stats, the list, and the review (a confirmation
// modal, or the payout's own page) to approve or reject, with the audit trail.
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import type { Who } from "../session";
import { Loading, Modal, Money, ProblemView, Status, useAction, useLoad, When } from "../ui";
import { failure, type Payout } from "./creator";
import { dayEnd, dayStart, Filters, type FilterValues, NextPage } from "./filters";

const STATUSES = ["REQUESTED", "BLOCKED", "APPROVED", "PROCESSING", "PAID", "FAILED", "REJECTED", "CANCELED"];
type Stat = { status: string; currency: string; count: number; amount_minor: number; net_minor: number };

export function AdminPayouts({ who }: { who: Who }) {
  const [filters, setFilters] = useState<FilterValues>({ status: "", creator: "", from: "", to: "", sort: "newest" });
  const [cursor, setCursor] = useState<string | null>(null);
  const [reviewing, setReviewing] = useState<string | null>(null);
  const query = {
    status: filters.status, creator_id: filters.creator, created_from: dayStart(filters.from), created_to: dayEnd(filters.to),
  };
  const list = useLoad(() => api<{ items: Payout[]; next_cursor: string | null }>("GET", "/api/admin/payouts", {},
    { query: { ...query, cursor, limit: 25 } }), [JSON.stringify(query), cursor]);
  const stats = useLoad(() => api<{ stats: Stat[] }>("GET", "/api/admin/payouts/stats", {}, { query }),
    [JSON.stringify(query)]);
  const reload = () => { void list.reload(); void stats.reload(); };
  return (
    <div>
      <h1>Payouts</h1>
      <Filters statuses={STATUSES} values={filters} sortable={false}
               onChange={(values) => { setFilters(values); setCursor(null); }} />
      <section aria-labelledby="payout-stats-title">
        <h2 id="payout-stats-title">By status</h2>
        <Loading state={stats}>{(data) => <StatsTable stats={data.stats} />}</Loading>
      </section>
      <section aria-labelledby="payout-list-title">
        <h2 id="payout-list-title">Payouts</h2>
        <Loading state={list}>{(data) => (
          <>
            <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens">
              <table>
                <caption class="visually-hidden">Payouts matching the filters</caption>
                <thead><tr><th>Asked</th><th>Creator</th><th>Status</th><th>Gross</th><th>Debt deducted</th><th>Net</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
                <tbody>
                  {data.items.map((p) => (
                    <tr key={p.payout_id} data-testid="payout-row" data-payout={p.payout_id} data-status={p.status}>
                      <td><a href={`/console/admin/payouts/${p.payout_id}`}><When at={p.created_at} /></a></td>
                      <td>{p.creator_id}</td>
                      <td><Status value={p.status} /></td>
                      <td><Money minor={p.gross_minor ?? p.requested_minor} currency={p.currency} /></td>
                      <td><Money minor={p.debt_deducted_minor} currency={p.currency} /></td>
                      <td><Money minor={p.net_minor} currency={p.currency} /></td>
                      <td><button type="button" onClick={() => setReviewing(p.payout_id)}
                                  aria-label={`Review payout of ${p.creator_id}`}>Review</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {!data.items.length && <p class="muted">No payout matches.</p>}
            <NextPage cursor={cursor} next={data.next_cursor} onPage={setCursor} />
          </>
        )}</Loading>
      </section>
      {reviewing && (
        <Modal title="Review payout" onClose={() => { setReviewing(null); reload(); }}>
          <PayoutReview payoutId={reviewing} who={who} onDecided={reload} />
        </Modal>
      )}
    </div>
  );
}

function StatsTable({ stats }: { stats: Stat[] }) {
  if (!stats.length) return <p class="muted">Nothing yet.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens">
      <table class="stats">
        <thead><tr><th>Status</th><th>Count</th><th>Gross</th><th>Net</th></tr></thead>
        <tbody>{stats.map((s) => (
          <tr key={`${s.status}-${s.currency}`}>
            <td><Status value={s.status} /></td><td>{s.count}</td>
            <td><Money minor={s.amount_minor} currency={s.currency} /></td>
            <td><Money minor={s.net_minor} currency={s.currency} /></td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}

export function AdminPayoutPage({ payoutId, who }: { payoutId: string; who: Who }) {
  return (
    <div>
      <p><a href="/console/admin/payouts">← All payouts</a></p>
      <h1>Payout</h1>
      <PayoutReview payoutId={payoutId} who={who} onDecided={() => undefined} />
    </div>
  );
}

type AuditRow = { seq: number; actor_id: string; actor_role: string; old_state: string | null; new_state: string;
  reason: string | null; created_at: string; hash: string };
type Audit = { items: AuditRow[]; chain?: { intact: boolean; broken_at_seq: number | null; problem: string | null } };

const DECIDABLE = new Set(["REQUESTED", "BLOCKED"]);

function PayoutReview({ payoutId, who, onDecided }: { payoutId: string; who: Who; onDecided: () => void }) {
  const payout = useLoad(() => api<Payout>("GET", "/api/payouts/{payout_id}", { payout_id: payoutId }), [payoutId]);
  const audit = useLoad(() => api<Audit>("GET", "/api/admin/payouts/{payout_id}/audit", { payout_id: payoutId }), [payoutId]);
  const [reason, setReason] = useState("");
  const decided = () => { void payout.reload(); void audit.reload(); onDecided(); };
  const approve = useAction(async () => {
    await api("POST", "/api/admin/payouts/{payout_id}/approve", { payout_id: payoutId });
    decided();
  });
  const reject = useAction(async () => {
    await api("POST", "/api/admin/payouts/{payout_id}/reject", { payout_id: payoutId }, { body: { reason } });
    decided();
  });
  return (
    <Loading state={payout}>{(p) => (
      <div class="stack review">
        <dl class="figures">
          <dt>Creator</dt><dd>{p.creator_id}</dd>
          <dt>Status</dt><dd data-testid="review-status"><Status value={p.status} /></dd>
          <dt>Gross</dt><dd><Money minor={p.gross_minor ?? p.requested_minor} currency={p.currency} /></dd>
          <dt>Debt deducted</dt><dd data-testid="review-debt"><Money minor={p.debt_deducted_minor ?? 0} currency={p.currency} /></dd>
          <dt>Net paid to the creator</dt><dd data-testid="review-net"><strong><Money minor={p.net_minor} currency={p.currency} /></strong></dd>
          <dt>Asked</dt><dd><When at={p.created_at} /> by {p.requested_by ?? p.creator_id}</dd>
          {failure(p) && <><dt>Failure or reason</dt><dd>{failure(p)}</dd></>}
        </dl>
        {!p.funds_reserved && p.status === "REQUESTED" && (
          <p class="warning">The ledger has not reserved the funds yet: approving waits for that.</p>
        )}
        <CreatorHistory creatorId={p.creator_id} current={p.payout_id} />
        {DECIDABLE.has(p.status) && (
          <div class="decision">
            <h3>Decision</h3>
            {who.userId === p.creator_id || who.userId === p.requested_by ? (
              <p class="problem" role="note">Separation of duties: you asked for this payout or it pays you, so
                another admin must decide it.</p>
            ) : null}
            <button type="button" class="primary" onClick={() => void approve.act()} disabled={approve.pending || reject.pending}
                    aria-busy={approve.pending}>
              {approve.pending ? "Approving…" : `Approve and pay ${p.net_minor === null ? "the net" : ""}`}
              {!approve.pending && p.net_minor !== null && <Money minor={p.net_minor} currency={p.currency} />}
            </button>
            <form class="stack" onSubmit={(event) => { event.preventDefault(); void reject.act(); }}>
              <label for="reject-reason">Reason for rejecting (required, the creator sees it)</label>
              <textarea id="reject-reason" required maxLength={1000} value={reason}
                        onInput={(event) => setReason(event.currentTarget.value)} />
              <button type="submit" disabled={reject.pending || approve.pending || !reason.trim()} aria-busy={reject.pending}>
                {reject.pending ? "Rejecting…" : "Reject"}
              </button>
            </form>
            <DecisionProblem error={approve.error || reject.error} />
          </div>
        )}
        <section aria-labelledby="audit-title">
          <h3 id="audit-title">Audit trail</h3>
          <Loading state={audit}>{(a) => <AuditTrail audit={a} />}</Loading>
        </section>
      </div>
    )}</Loading>
  );
}

/** The separation-of-duties refusal said plainly; any other problem as the API said it. */
function DecisionProblem({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.problem.reason === "separation_of_duties") {
    return (
      <div class="problem" role="alert" data-testid="separation-of-duties">
        <strong>Refused: separation of duties</strong>
        <p>{error.problem.detail} Another admin has to approve this payout.</p>
      </div>
    );
  }
  return <ProblemView error={error} />;
}

function CreatorHistory({ creatorId, current }: { creatorId: string; current: string }) {
  const history = useLoad(() => api<{ items: Payout[] }>("GET", "/api/admin/payouts", {},
    { query: { creator_id: creatorId, limit: 10 } }), [creatorId]);
  return (
    <section aria-labelledby="history-title">
      <h3 id="history-title">{creatorId}'s recent payouts</h3>
      <Loading state={history}>{(data) => (
        <ul class="history">{data.items.filter((p) => p.payout_id !== current).map((p) => (
          <li key={p.payout_id}><When at={p.created_at} /> · <Status value={p.status} /> · net{" "}
            <Money minor={p.net_minor} currency={p.currency} />{failure(p) ? ` · ${failure(p)}` : ""}</li>
        ))}{data.items.length <= 1 && <li class="muted">No earlier payout.</li>}</ul>
      )}</Loading>
    </section>
  );
}

function AuditTrail({ audit }: { audit: Audit }) {
  const chain = audit.chain;
  return (
    <div class="stack">
      {chain && (chain.intact
        ? <p class="ok" data-testid="chain-status">Hash chain verified: every row of this trail is intact and linked.</p>
        : <p class="problem" role="alert" data-testid="chain-status">Hash chain BROKEN at row {chain.broken_at_seq}: {chain.problem}</p>)}
      <ol class="audit" data-testid="audit-trail">
        {audit.items.map((row) => (
          <li key={row.seq}>
            <When at={row.created_at} /> · {row.actor_role} {row.actor_id} ·{" "}
            {row.old_state ? <><Status value={row.old_state} /> → </> : null}<Status value={row.new_state} />
            {row.reason ? ` · ${row.reason}` : ""}
            <small class="hash" title="this row's hash">#{row.hash.slice(0, 12)}</small>
          </li>
        ))}
      </ol>
    </div>
  );
}
