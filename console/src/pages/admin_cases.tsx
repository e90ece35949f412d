// Admin refunds and disputes: filters, sort, cursor pages, stats, the CSV of
// exactly the filtered rows (the same query with ?format=csv), and a way to a
// payment's page to refund it.
import { useState } from "preact/hooks";
import { api, authorizedFetch, queryString } from "../api";
import { navigate } from "../router";
import { Loading, Money, ProblemView, Status, useAction, useLoad, When } from "../ui";
import { dayEnd, dayStart, Filters, type FilterValues, NextPage, SORTS } from "./filters";

type Kind = "refunds" | "disputes";
type Row = { refund_id?: string; dispute_id?: string; payment_id: string; creator_id: string; amount_minor: number;
  currency: string; status: string; reason: string | null; created_at: string; outcome?: string | null;
  evidence_due_by?: string | null; failure_reason?: string | null; creator_clawback_minor?: number;
  creator_share_minor?: number | null };
type Stat = { status: string; count: number; amount_minor: number; currency: string };

const STATUSES: Record<Kind, string[]> = {
  refunds: ["PENDING", "REQUIRES_ACTION", "SUCCEEDED", "FAILED", "CANCELED"],
  disputes: ["warning_needs_response", "warning_under_review", "warning_closed", "needs_response", "under_review",
    "won", "lost"],
};

export function AdminCases({ kind }: { kind: Kind }) {
  return <CaseList key={kind} kind={kind} />;
}

function CaseList({ kind }: { kind: Kind }) {
  const [filters, setFilters] = useState<FilterValues>({ status: "", creator: "", from: "", to: "", sort: "newest" });
  const [cursor, setCursor] = useState<string | null>(null);
  const sort = SORTS[filters.sort];
  const query = { status: filters.status, creator_id: filters.creator, created_from: dayStart(filters.from),
    created_to: dayEnd(filters.to) };
  const key = JSON.stringify(query);
  const listPath = kind === "refunds" ? "/api/admin/refunds" : "/api/admin/disputes";
  const list = useLoad(() => api<{ items: Row[]; next_cursor: string | null }>("GET", listPath, {},
    { query: { ...query, sort: sort.sort, order: sort.order, cursor, limit: 25 } }), [kind, key, filters.sort, cursor]);
  const stats = useLoad(() => api<{ stats: Stat[] }>("GET",
    kind === "refunds" ? "/api/admin/refunds/stats" : "/api/admin/disputes/stats", {}, { query }), [kind, key]);
  const exportCsv = useAction(async () => {
    // The list's own filters and order, as a file: exactly the rows the filters select.
    const response = await authorizedFetch(`${listPath}${queryString({ ...query, sort: sort.sort, order: sort.order, format: "csv" })}`);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `${kind}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  const title = kind === "refunds" ? "Refunds" : "Disputes";
  return (
    <div>
      <h1>{title}</h1>
      <Filters statuses={STATUSES[kind]} values={filters} sortable
               onChange={(values) => { setFilters(values); setCursor(null); }} />
      <section aria-labelledby="case-stats-title">
        <h2 id="case-stats-title">By status</h2>
        <Loading state={stats}>{(data) => data.stats.length ? (
          <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens"><table class="stats">
            <thead><tr><th>Status</th><th>Count</th><th>Amount</th></tr></thead>
            <tbody>{data.stats.map((s) => (
              <tr key={`${s.status}-${s.currency}`}><td><Status value={s.status} /></td><td>{s.count}</td>
                <td><Money minor={s.amount_minor} currency={s.currency} /></td></tr>
            ))}</tbody>
          </table></div>
        ) : <p class="muted">Nothing matches.</p>}</Loading>
      </section>
      <section aria-labelledby="case-list-title">
        <div class="section-head">
          <h2 id="case-list-title">{title}</h2>
          <button type="button" onClick={() => void exportCsv.act()} disabled={exportCsv.pending} aria-busy={exportCsv.pending}>
            {exportCsv.pending ? "Exporting…" : "Export CSV"}
          </button>
        </div>
        <ProblemView error={exportCsv.error} />
        <Loading state={list}>{(data) => (
          <>
            <div class="table-wrap" tabIndex={0} role="group" aria-label="Table, scrolls sideways on narrow screens">
              <table>
                <caption class="visually-hidden">{title} matching the filters</caption>
                <thead><tr><th>Opened</th><th>Creator</th><th>Status</th><th>Amount</th>
                  <th>{kind === "refunds" ? "Taken from creator" : "Creator share frozen"}</th><th>Reason</th><th>Payment</th></tr></thead>
                <tbody>
                  {data.items.map((row) => (
                    <tr key={row.refund_id ?? row.dispute_id} data-testid="case-row" data-id={row.refund_id ?? row.dispute_id}>
                      <td><When at={row.created_at} /></td>
                      <td>{row.creator_id}</td>
                      <td><Status value={row.status} />{row.outcome ? ` (${row.outcome})` : ""}</td>
                      <td><Money minor={row.amount_minor} currency={row.currency} /></td>
                      <td><Money minor={kind === "refunds" ? row.creator_clawback_minor : row.creator_share_minor} currency={row.currency} /></td>
                      <td>{row.failure_reason || row.reason || "—"}</td>
                      <td><a href={`/console/payments/${row.payment_id}`}>Open payment</a></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {!data.items.length && <p class="muted">Nothing matches.</p>}
            <NextPage cursor={cursor} next={data.next_cursor} onPage={setCursor} />
          </>
        )}</Loading>
      </section>
      {kind === "refunds" && <RefundLookup />}
    </div>
  );
}

function RefundLookup() {
  const [paymentId, setPaymentId] = useState("");
  return (
    <section aria-labelledby="refund-a-payment">
      <h2 id="refund-a-payment">Refund a payment</h2>
      <form class="row" onSubmit={(event) => { event.preventDefault(); navigate(`/payments/${paymentId.trim()}`); }}>
        <label for="refund-payment-id">Payment id</label>
        <input id="refund-payment-id" value={paymentId} required onInput={(e) => setPaymentId(e.currentTarget.value)} />
        <button type="submit">Open payment</button>
      </form>
    </section>
  );
}
