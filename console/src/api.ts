// The console's one door to the public API (/api on this origin), like any other
// frontend client: the generated client from contracts/typescript, the caller's
// bearer token, and RFC 9457 problem details turned into ApiError.
import { createCallastarClient } from "../../contracts/typescript/src/index";
import type { paths } from "../../contracts/typescript/src/schema";
import { session } from "./session";

export type Problem = { title?: string; detail?: string; status?: number; reason?: string; type?: string;
  extra?: unknown; [field: string]: unknown };

export class ApiError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
type Query = Record<string, string | number | boolean | string[] | undefined | null>;
type Call = { query?: Query; body?: unknown; headers?: Record<string, string> };
// The path templates the OpenAPI publishes ("/api/payouts/{payout_id}"): a typo is a type error.
export type ApiPath = keyof paths & string;
// Until every route's schema is typed, answers are read loosely here and nowhere else.
type LooseClient = Record<Method, (path: string, init: Record<string, unknown>) =>
  Promise<{ data?: unknown; error?: unknown; response: Response }>>;

function client(): LooseClient {
  return createCallastarClient({ baseUrl: location.origin, token: session.token() ?? undefined }) as unknown as LooseClient;
}

function clean(query: Query | undefined): Record<string, string | string[]> | undefined {
  if (!query) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    out[key] = Array.isArray(value) ? value : String(value);
  }
  return out;
}

function asProblem(status: number, error: unknown): Problem {
  if (error && typeof error === "object") return error as Problem;
  return { status, title: `HTTP ${status}`, detail: typeof error === "string" && error ? error : undefined };
}

function expired(status: number): void {
  if (status === 401) session.expire();
}

export async function api<T = any>(method: Method, path: ApiPath, pathParams: Record<string, string> = {},
                                   call: Call = {}): Promise<T> {
  const { data, error, response } = await client()[method](path, {
    params: { path: pathParams, query: clean(call.query) },
    body: call.body,
    headers: call.headers,
    // Arrays repeat the key (?status=A&status=B), as the API reads them.
    querySerializer: { array: { style: "form", explode: true } },
  });
  if (!response.ok) {
    expired(response.status);
    throw new ApiError(response.status, asProblem(response.status, error));
  }
  return data as T;
}

/** Raw fetch with the token, for what is not JSON: CSV exports, 304-aware polling, the event stream. */
export async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = session.token();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok && response.status !== 304) {
    expired(response.status);
    let problem: Problem;
    try { problem = await response.json(); } catch { problem = { status: response.status, title: response.statusText }; }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(clean(query) ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, one);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** One Idempotency-Key per attempt of an action: a double click or a retry sends the same one. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
