// One payment (the page notifications and emails about it link to); admins see
// its refunds and can refund it, fully or partly, after a confirmation step.
import { useState } from "preact/hooks";
import { api } from "../api";
import type { Feed } from "../feed";
import { decimalText, parseMoney } from "../money";
import type { Who } from "../session";
import { Loading, Money, ProblemView, Status, useAction, useArrivals, useLoad, When } from "../ui";

type Payment = { payment_id: string; status: string; fan_id: string; creator_id: string;
  amounts: { price_minor: number; creator_share_minor: number; platform_fee_minor: number; currency: string };
  failure_message: string | null; review_reason: string | null; created_at: string; succeeded_at: string | null };
type Refund = { refund_id: string; status: string; amount_minor: number; currency: string; reason: string | null;
  creator_clawback_minor: number; failure_reason: string | null; created_at: string };

export function PaymentPage({ paymentId, who, feed }: { paymentId: string; who: Who; feed: Feed }) {
  const tick = useArrivals(feed);
  const payment = useLoad(() => api<Payment>("GET", "/api/payments/{payment_id}", { payment_id: paymentId }), [paymentId, tick]);
  return (
    <div>
      <h1>Payment</h1>
      <Loading state={payment}>{(p) => (
        <div class="stack">
          <dl class="figures">
            <dt>Status</dt><dd data-testid="payment-status"><Status value={p.status} /></dd>
            <dt>Price paid by the fan</dt><dd><Money minor={p.amounts.price_minor} currency={p.amounts.currency} /></dd>
            <dt>Creator's share</dt><dd><Money minor={p.amounts.creator_share_minor} currency={p.amounts.currency} /></dd>
            <dt>Platform fee</dt><dd><Money minor={p.amounts.platform_fee_minor} currency={p.amounts.currency} /></dd>
            <dt>Creator</dt><dd>{p.creator_id}</dd>
            <dt>Fan</dt><dd>{p.fan_id}</dd>
            <dt>Opened</dt><dd><When at={p.created_at} /></dd>
            <dt>Succeeded</dt><dd><When at={p.succeeded_at} /></dd>
            {(p.failure_message || p.review_reason) && <><dt>Problem</dt><dd>{p.failure_message || p.review_reason}</dd></>}
          </dl>
          {who.role === "admin" && <Refunds payment={p} />}
        </div>
      )}</Loading>
    </div>
  );
}

const REASONS = ["requested_by_customer", "duplicate", "fraudulent"];

function Refunds({ payment }: { payment: Payment }) {
  const { currency, price_minor: price } = payment.amounts;
  const refunds = useLoad(() => api<Refund[]>("GET", "/api/payments/{payment_id}/refunds",
    { payment_id: payment.payment_id }), [payment.payment_id]);
  const [full, setFull] = useState(true);
  const [amount, setAmount] = useState(decimalText(price, currency));
  const [reason, setReason] = useState(REASONS[0]);
  const [confirming, setConfirming] = useState<number | null>(null);
  const amountMinor = full ? null : parseMoney(amount, currency);
  const refund = useAction(async () => {
    await api("POST", "/api/payments/{payment_id}/refunds", { payment_id: payment.payment_id }, {
      body: { ...(full ? {} : { amount_minor: amountMinor }), currency, reason },
    });
    setConfirming(null);
    await refunds.reload();
  });
  return (
    <section aria-labelledby="refunds-title" class="stack">
      <h2 id="refunds-title">Refunds</h2>
      <Loading state={refunds}>{(items) => items.length ? (
        <ul>{items.map((r) => (
          <li key={r.refund_id} data-testid="refund-row"><When at={r.created_at} /> · <Status value={r.status} /> ·{" "}
            <Money minor={r.amount_minor} currency={r.currency} /> (taken from the creator:{" "}
            <Money minor={r.creator_clawback_minor} currency={r.currency} />){r.failure_reason ? ` · ${r.failure_reason}` : ""}</li>
        ))}</ul>
      ) : <p class="muted">No refund.</p>}</Loading>
      {payment.status === "SUCCEEDED" && (confirming === null ? (
        <form class="stack" onSubmit={(event) => { event.preventDefault(); setConfirming(full ? price : amountMinor); }}>
          <fieldset>
            <legend>Refund this payment</legend>
            <label><input type="radio" name="refund-kind" checked={full} onChange={() => setFull(true)} />
              All that is left refundable</label>
            <label><input type="radio" name="refund-kind" checked={!full} onChange={() => setFull(false)} /> Part of it</label>
            {!full && <>
              <label for="refund-amount">Amount ({currency})</label>
              <input id="refund-amount" value={amount} inputMode="decimal" onInput={(e) => setAmount(e.currentTarget.value)} />
            </>}
            <label for="refund-reason">Reason</label>
            <select id="refund-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
              {REASONS.map((r) => <option key={r} value={r}>{r.replace(/_/g, " ")}</option>)}
            </select>
            <button type="submit" disabled={!full && amountMinor === null}>Review refund</button>
          </fieldset>
        </form>
      ) : (
        <div class="confirm" role="group" aria-labelledby="confirm-refund-title">
          <h3 id="confirm-refund-title">Confirm the refund</h3>
          <p>{full ? "Everything still refundable of " : "Refund "}<Money minor={confirming} currency={currency} />
            {full ? null : <> of the <Money minor={price} currency={currency} /> paid</>} goes back to the fan ({reason.replace(/_/g, " ")}).
            The creator's share of it is taken back from their balance, or becomes a debt.</p>
          <div class="row">
          <button type="button" class="primary" onClick={() => void refund.act()} disabled={refund.pending} aria-busy={refund.pending}>
            {refund.pending ? "Refunding…" : "Confirm refund"}
          </button>
          <button type="button" onClick={() => setConfirming(null)} disabled={refund.pending}>Back</button>
          </div>
        </div>
      ))}
      <ProblemView error={refund.error} />
    </section>
  );
}
