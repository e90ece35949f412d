// The typed client of the public API: openapi-fetch over the paths generated
// from the gateway's OpenAPI (schema.d.ts, by openapi-typescript).
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export type { paths };

export function createCallastarClient({ baseUrl, token }: { baseUrl: string; token?: string }) {
  return createClient<paths>({ baseUrl, headers: token ? { Authorization: `Bearer ${token}` } : {} });
}
