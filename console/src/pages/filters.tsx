// The filter bar and cursor paging the admin lists share.
import { useState } from "preact/hooks";

export type FilterValues = { status: string; creator: string; from: string; to: string; sort: string };

export const SORTS: Record<string, { sort: string; order: string; label: string }> = {
  newest: { sort: "created_at", order: "desc", label: "Newest first" },
  oldest: { sort: "created_at", order: "asc", label: "Oldest first" },
  largest: { sort: "amount", order: "desc", label: "Largest amount first" },
  smallest: { sort: "amount", order: "asc", label: "Smallest amount first" },
};

/** A date input's day as the API's bounds: from its start (inclusive) to the next day's start (exclusive), UTC. */
export function dayStart(day: string): string | undefined {
  return day ? `${day}T00:00:00Z` : undefined;
}

export function dayEnd(day: string): string | undefined {
  if (!day) return undefined;
  const next = new Date(`${day}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString();
}

export function Filters({ statuses, values, sortable, onChange }: {
  statuses: string[]; values: FilterValues; sortable: boolean; onChange: (values: FilterValues) => void;
}) {
  const [draft, setDraft] = useState(values);
  const set = (key: keyof FilterValues) => (event: Event) =>
    setDraft({ ...draft, [key]: (event.currentTarget as HTMLInputElement).value });
  return (
    <form class="filters" aria-label="Filters" onSubmit={(event) => { event.preventDefault(); onChange(draft); }}>
      <div class="field">
        <label for="filter-status">Status</label>
        <select id="filter-status" name="status" value={draft.status} onChange={set("status")}>
          <option value="">Any</option>
          {statuses.map((s) => <option key={s} value={s}>{s.replace(/_/g, " ").toLowerCase()}</option>)}
        </select>
      </div>
      <div class="field">
        <label for="filter-creator">Creator</label>
        <input id="filter-creator" name="creator" value={draft.creator} onInput={set("creator")} placeholder="creator id" />
      </div>
      <div class="field">
        <label for="filter-from">From</label>
        <input id="filter-from" name="from" type="date" value={draft.from} onInput={set("from")} />
      </div>
      <div class="field">
        <label for="filter-to">To</label>
        <input id="filter-to" name="to" type="date" value={draft.to} onInput={set("to")} />
      </div>
      {sortable && (
        <div class="field">
          <label for="filter-sort">Sort</label>
          <select id="filter-sort" name="sort" value={draft.sort} onChange={set("sort")}>
            {Object.entries(SORTS).map(([key, s]) => <option key={key} value={key}>{s.label}</option>)}
          </select>
        </div>
      )}
      <button type="submit">Apply filters</button>
    </form>
  );
}

export function NextPage({ cursor, next, onPage }: {
  cursor: string | null; next: string | null; onPage: (cursor: string | null) => void;
}) {
  if (!cursor && !next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {cursor && <button type="button" onClick={() => onPage(null)}>First page</button>}
      {next && <button type="button" onClick={() => onPage(next)}>Next page</button>}
    </nav>
  );
}
