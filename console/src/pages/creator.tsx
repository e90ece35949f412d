// The creator's dashboard: balances, debts, payouts (and asking for one), the
// Stripe payout account, offers. It refreshes when a notification arrives.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, newIdempotencyKey } from "../api";
import type { Feed } from "../feed";
import { decimalText, formatMoney, parseMoney } from "../money";
import type { Who } from "../session";
import { Loading, Money, ProblemView, Status, useAction, useArrivals, useLoad, When } from "../ui";

export type Balance = { currency: string; available_minor: number; reserved_minor: number; disputed_minor: number;
  debt_minor: number; payouts_blocked: boolean };
export type Payout = { payout_id: string; creator_id: string; status: string; currency: string;
  requested_minor: number | null; gross_minor: number | null; debt_deducted_minor: number | null;
  net_minor: number | null; reason: string | null; reason_detail: string | null; failure_code: string | null;
  failure_message: string | null; created_at: string; paid_at: string | null; all_available: boolean;
  funds_reserved: boolean; requested_by?: string; approved_by?: string | null };
type Debt = { debt_id: string; currency: string; cause_type: string; cause_id: string; amount_minor: number;
  remaining_minor: number; deducted_minor: number; reversed_minor: number; status: string; created_at: string };
type Offer = { offer_id: string; title: string; price_minor: number; currency: string; active: boolean };

export function CreatorDashboard({ who, feed, focus }: { who: Who; feed: Feed; focus: string }) {
  if (who.role !== "creator") {
    return <section><h1>Creator dashboard</h1><p role="alert">This dashboard is for creators.</p></section>;
  }
  return <Dashboard feed={feed} focus={focus} />;
}

function Dashboard({ feed, focus }: { feed: Feed; focus: string }) {
  const tick = useArrivals(feed);
  useEffect(() => {
    if (focus === "/debts") document.getElementById("debts")?.scrollIntoView();
  }, [focus]);
  const balances = useLoad(() => api<{ balances: Balance[] }>("GET", "/api/balance"), [tick]);
  const payouts = useLoad(() => api<{ items: Payout[] }>("GET", "/api/payouts", {}, { query: { limit: 20 } }), [tick]);
  const debts = useLoad(() => api<{ debts: Debt[] }>("GET", "/api/debts"), [tick]);
  const refresh = () => { void balances.reload(); void payouts.reload(); void debts.reload(); };
  return (
    <div class="dashboard">
      <h1>Dashboard</h1>
      <section aria-labelledby="balances-title">
        <h2 id="balances-title">Balance</h2>
        <Loading state={balances}>{(data) => <Balances balances={data.balances} />}</Loading>
      </section>
      <section aria-labelledby="request-title">
        <h2 id="request-title">Request a payout</h2>
        <Loading state={balances}>{(data) => <RequestPayout balances={data.balances} onDone={refresh} />}</Loading>
      </section>
      <section aria-labelledby="payouts-title">
        <h2 id="payouts-title">Payouts</h2>
        <Loading state={payouts}>{(data) => <PayoutHistory payouts={data.items} />}</Loading>
      </section>
      <section id="debts" aria-labelledby="debts-title">
        <h2 id="debts-title">Debts</h2>
        <p class="muted">A refund or a lost dispute your available balance could not cover becomes a debt. Debts are
          deducted first from your next payouts, oldest first; a debt is settled when nothing of it remains. While
          your debt in a currency is above the platform's threshold, payouts in it are blocked.</p>
        <Loading state={debts}>{(data) => <Debts debts={data.debts} />}</Loading>
      </section>
      <section aria-labelledby="account-title">
        <h2 id="account-title">Stripe payout account</h2>
        <PayoutAccount />
      </section>
      <section aria-labelledby="offers-title">
        <h2 id="offers-title">Offers</h2>
        <Offers />
      </section>
    </div>
  );
}

function Balances({ balances }: { balances: Balance[] }) {
  if (!balances.length) return <p class="muted">No earnings yet.</p>;
  return (
    <div class="cards">
      {balances.map((b) => (
        <dl class="card" key={b.currency} data-testid={`balance-${b.currency}`}>
          <dt>Available</dt><dd data-testid="available"><Money minor={b.available_minor} currency={b.currency} /></dd>
          <dt>Reserved for payouts</dt><dd><Money minor={b.reserved_minor} currency={b.currency} /></dd>
          <dt>Frozen by disputes</dt><dd><Money minor={b.disputed_minor} currency={b.currency} /></dd>
          <dt>Debt</dt><dd><Money minor={b.debt_minor} currency={b.currency} /></dd>
          {b.payouts_blocked && <dd class="warning">Payouts blocked: the debt is above the threshold</dd>}
        </dl>
      ))}
    </div>
  );
}

function RequestPayout({ balances, onDone }: { balances: Balance[]; onDone: () => void }) {
  const usable = balances.filter((b) => b.available_minor > 0);
  const [currency, setCurrency] = useState(usable[0]?.currency ?? "");
  const balance = usable.find((b) => b.currency === currency);
  const [amount, setAmount] = useState("");
  // One Idempotency-Key per attempt: a double click, or a retry after a network
  // error, sends the same key, so at most one payout is made of it.
  const [key, setKey] = useState(newIdempotencyKey);
  const [done, setDone] = useState<Payout | null>(null);
  useEffect(() => {
    if (balance) setAmount(decimalText(balance.available_minor, balance.currency));
  }, [balance?.currency, balance?.available_minor]);
  const request = useAction(async (amountMinor: number) => {
    const payout = await api<Payout>("POST", "/api/payouts", {}, {
      body: { amount_minor: amountMinor, currency }, headers: { "Idempotency-Key": key },
    });
    setDone(payout);
    setKey(newIdempotencyKey());
    onDone();
  });
  if (!balance) return <p class="muted">Nothing available to pay out yet.</p>;
  const amountMinor = parseMoney(amount, currency);
  const deducted = amountMinor === null ? 0 : Math.min(balance.debt_minor, amountMinor);
  const net = amountMinor === null ? null : amountMinor - deducted;
  return (
    <form class="stack" onSubmit={(event) => { event.preventDefault(); if (amountMinor !== null) void request.act(amountMinor); }}>
      <div class="row">
        <label for="payout-currency">Currency</label>
        <select id="payout-currency" value={currency} onChange={(event) => { setCurrency(event.currentTarget.value); setKey(newIdempotencyKey()); }}>
          {usable.map((b) => <option key={b.currency} value={b.currency}>{b.currency}</option>)}
        </select>
        <label for="payout-amount">Amount ({currency})</label>
        <input id="payout-amount" inputMode="decimal" value={amount} aria-describedby="payout-rules"
               onInput={(event) => { setAmount(event.currentTarget.value); setKey(newIdempotencyKey()); }} />
      </div>
      <ul id="payout-rules" class="rules">
        <li>Available now: <Money minor={balance.available_minor} currency={currency} /> (prefilled).</li>
        <li>Debt first: {balance.debt_minor > 0
          ? <>your debt of <Money minor={balance.debt_minor} currency={currency} /> is deducted from this payout; </>
          : <>you owe nothing, so nothing is deducted; </>}
          you would receive <strong data-testid="payout-net">{net === null ? "—" : formatMoney(net, currency)}</strong>.</li>
        <li>Minimum: a payout below the platform's minimum amount is refused, and the answer says the minimum.</li>
        <li>Blocked: while your debt is above the platform's threshold, payouts wait until it is paid down.
          {balance.payouts_blocked && <strong> Your payouts in {currency} are blocked now.</strong>}</li>
        <li>An admin approves each payout; the money then goes to your Stripe account.</li>
      </ul>
      {amountMinor === null && amount !== "" && <p role="alert" class="problem">Not an amount in {currency}.</p>}
      <button type="submit" disabled={request.pending || amountMinor === null} aria-busy={request.pending}>
        {request.pending ? "Requesting…" : "Request payout"}
      </button>
      <ProblemView error={request.error} />
      {done && !request.error && (
        <p role="status" class="ok">Payout requested: <Money minor={done.requested_minor} currency={done.currency} />,
          status <Status value={done.status} />. <a href={`/console/payouts/${done.payout_id}`}>Follow it</a></p>
      )}
    </form>
  );
}

export function failure(p: Payout): string {
  return [p.failure_message || p.failure_code, p.reason_detail || p.reason].filter(Boolean).join(" — ");
}

function PayoutHistory({ payouts }: { payouts: Payout[] }) {
  if (!payouts.length) return <p class="muted">No payouts yet.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens">
      <table>
        <caption class="visually-hidden">Your payouts, newest first</caption>
        <thead><tr><th>Asked</th><th>Status</th><th>Gross</th><th>Debt deducted</th><th>Net</th><th>Failure or reason</th></tr></thead>
        <tbody>
          {payouts.map((p) => (
            <tr key={p.payout_id} data-testid="payout-row" data-status={p.status}>
              <td><a href={`/console/payouts/${p.payout_id}`}><When at={p.created_at} /></a></td>
              <td><Status value={p.status} /></td>
              <td><Money minor={p.gross_minor ?? p.requested_minor} currency={p.currency} /></td>
              <td><Money minor={p.debt_deducted_minor} currency={p.currency} /></td>
              <td><Money minor={p.net_minor} currency={p.currency} /></td>
              <td>{failure(p) || "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Debts({ debts }: { debts: Debt[] }) {
  if (!debts.length) return <p class="muted">You owe nothing.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens">
      <table>
        <caption class="visually-hidden">Your debts</caption>
        <thead><tr><th>Since</th><th>Cause</th><th>Amount</th><th>Deducted from payouts</th><th>Remaining</th><th>Status</th></tr></thead>
        <tbody>
          {debts.map((d) => (
            <tr key={d.debt_id}>
              <td><When at={d.created_at} /></td>
              <td>{d.cause_type.replace(/_/g, " ")}</td>
              <td><Money minor={d.amount_minor} currency={d.currency} /></td>
              <td><Money minor={d.deducted_minor} currency={d.currency} /></td>
              <td><Money minor={d.remaining_minor} currency={d.currency} /></td>
              <td><Status value={d.status} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type Account = { stripe_account_id: string; payouts_enabled: boolean; details_submitted: boolean;
  requirements: { currently_due?: string[]; disabled_reason?: string | null } | null; onboarding_url?: string };

function PayoutAccount() {
  const account = useLoad(async () => {
    try {
      return await api<Account>("GET", "/api/payouts/account");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;  // not connected yet
      throw error;
    }
  }, []);
  const [link, setLink] = useState<string>();
  const onboard = useAction(async () => {
    const created = await api<Account>("POST", "/api/payouts/account");
    setLink(created.onboarding_url);
  });
  return (
    <Loading state={account}>{(data) => (
      <div class="stack">
        {data === null
          ? <p>Not connected: connect a Stripe account to receive payouts.</p>
          : <p data-testid="account-status">Account {data.stripe_account_id}:{" "}
              {data.payouts_enabled ? <strong class="ok">payouts enabled</strong>
                : <strong class="warning">onboarding not finished</strong>}
              {data.requirements?.currently_due?.length ? ` (Stripe still needs: ${data.requirements.currently_due.join(", ")})` : ""}</p>}
        {!data?.payouts_enabled && (
          <button type="button" onClick={() => void onboard.act()} disabled={onboard.pending} aria-busy={onboard.pending}>
            {onboard.pending ? "Preparing…" : data === null ? "Connect with Stripe" : "Continue onboarding"}
          </button>
        )}
        {link && <p><a href={link} rel="noopener">Open Stripe onboarding</a></p>}
        <ProblemView error={onboard.error} />
      </div>
    )}</Loading>
  );
}

function Offers() {
  const offers = useLoad(() => api<{ items: Offer[] }>("GET", "/api/offers/mine"), []);
  const [title, setTitle] = useState("");
  const [price, setPrice] = useState("");
  const [currency, setCurrency] = useState("EUR");
  const create = useAction(async () => {
    const priceMinor = parseMoney(price, currency);
    if (priceMinor === null) throw new Error(`"${price}" is not an amount in ${currency}`);
    await api("POST", "/api/offers", {}, { body: { title, price_minor: priceMinor, currency } });
    setTitle(""); setPrice("");
    await offers.reload();
  });
  return (
    <div class="stack">
      <Loading state={offers}>{(data) => data.items.length ? (
        <ul class="offers">{data.items.map((o) => <OfferRow key={o.offer_id} offer={o} onChange={offers.reload} />)}</ul>
      ) : <p class="muted">No offers yet.</p>}</Loading>
      <form class="row" onSubmit={(event) => { event.preventDefault(); void create.act(); }}>
        <label for="offer-title">Title</label>
        <input id="offer-title" value={title} required maxLength={200} onInput={(e) => setTitle(e.currentTarget.value)} />
        <label for="offer-price">Price</label>
        <input id="offer-price" value={price} required inputMode="decimal" onInput={(e) => setPrice(e.currentTarget.value)} />
        <label for="offer-currency">Currency</label>
        <input id="offer-currency" value={currency} required pattern="[A-Za-z]{3}" size={4}
               onInput={(e) => setCurrency(e.currentTarget.value.toUpperCase())} />
        <button type="submit" disabled={create.pending} aria-busy={create.pending}>{create.pending ? "Creating…" : "Create offer"}</button>
      </form>
      <ProblemView error={create.error} />
    </div>
  );
}

function OfferRow({ offer, onChange }: { offer: Offer; onChange: () => Promise<void> }) {
  const [price, setPrice] = useState(decimalText(offer.price_minor, offer.currency));
  const reprice = useAction(async () => {
    const priceMinor = parseMoney(price, offer.currency);
    if (priceMinor === null) throw new Error(`"${price}" is not an amount in ${offer.currency}`);
    await api("PATCH", "/api/offers/{offer_id}", { offer_id: offer.offer_id }, { body: { price_minor: priceMinor } });
    await onChange();
  });
  const disable = useAction(async () => {
    await api("POST", "/api/offers/{offer_id}/disable", { offer_id: offer.offer_id });
    await onChange();
  });
  const id = `price-${offer.offer_id}`;
  return (
    <li class={offer.active ? "" : "disabled"}>
      <span><strong>{offer.title}</strong> · <Money minor={offer.price_minor} currency={offer.currency} />
        {!offer.active && " · disabled"}</span>
      {offer.active && (
        <form class="row" onSubmit={(event) => { event.preventDefault(); void reprice.act(); }}>
          <label for={id}>New price ({offer.currency})</label>
          <input id={id} value={price} inputMode="decimal" size={8} onInput={(e) => setPrice(e.currentTarget.value)} />
          <button type="submit" disabled={reprice.pending} aria-busy={reprice.pending}>{reprice.pending ? "Saving…" : "Change price"}</button>
          <button type="button" onClick={() => void disable.act()} disabled={disable.pending} aria-busy={disable.pending}>
            {disable.pending ? "Disabling…" : "Disable"}</button>
        </form>
      )}
      <ProblemView error={reprice.error || disable.error} />
    </li>
  );
}
