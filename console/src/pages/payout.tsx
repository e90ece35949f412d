// One payout, as its creator sees it (the page payout notifications link to);
// admins are sent on to the review page.
import { useEffect } from "preact/hooks";
import { api } from "../api";
import type { Feed } from "../feed";
import { navigate } from "../router";
import type { Who } from "../session";
import { Loading, Money, ProblemView, Status, useAction, useArrivals, useLoad, When } from "../ui";
import { failure, type Payout } from "./creator";

const CANCELABLE = new Set(["REQUESTED", "BLOCKED"]);

export function PayoutPage({ payoutId, who, feed }: { payoutId: string; who: Who; feed: Feed }) {
  useEffect(() => {
    if (who.role === "admin") navigate(`/admin/payouts/${payoutId}`, true);
  }, [who.role, payoutId]);
  const tick = useArrivals(feed);
  const payout = useLoad(() => api<Payout>("GET", "/api/payouts/{payout_id}", { payout_id: payoutId }), [payoutId, tick]);
  const cancel = useAction(async () => {
    await api("POST", "/api/payouts/{payout_id}/cancel", { payout_id: payoutId });
    await payout.reload();
  });
  return (
    <div>
      <p><a href="/console/dashboard">← Dashboard</a></p>
      <h1>Payout</h1>
      <Loading state={payout}>{(p) => (
        <div class="stack">
          <dl class="figures">
            <dt>Status</dt><dd data-testid="payout-status"><Status value={p.status} /></dd>
            <dt>Asked</dt><dd>{p.all_available ? "all available" : <Money minor={p.requested_minor} currency={p.currency} />}</dd>
            <dt>Gross</dt><dd><Money minor={p.gross_minor} currency={p.currency} /></dd>
            <dt>Debt deducted</dt><dd><Money minor={p.debt_deducted_minor} currency={p.currency} /></dd>
            <dt>Net to you</dt><dd><strong><Money minor={p.net_minor} currency={p.currency} /></strong></dd>
            <dt>Requested</dt><dd><When at={p.created_at} /></dd>
            <dt>Paid</dt><dd><When at={p.paid_at} /></dd>
            {failure(p) && <><dt>Failure or reason</dt><dd>{failure(p)}</dd></>}
          </dl>
          {CANCELABLE.has(p.status) && who.role === "creator" && (
            <button type="button" onClick={() => void cancel.act()} disabled={cancel.pending} aria-busy={cancel.pending}>
              {cancel.pending ? "Withdrawing…" : "Withdraw this request"}
            </button>
          )}
          <ProblemView error={cancel.error} />
        </div>
      )}</Loading>
    </div>
  );
}
