/**
 * A typed client of the Callastar public API: paths, bodies, query parameters,
 * answers and problem details come from `schema.d.ts`, generated from the
 * gateway's OpenAPI document (contracts/openapi.json). Never edit schema.d.ts
 * by hand: `./callastar contracts` regenerates it.
 *
 *   const api = createCallastarClient({ baseUrl: "https://api.example", token });
 *   const { data, error } = await api.GET("/api/balance");
 *   // data: components["schemas"]["Balance"] | undefined; error: a Problem | undefined
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema";

export type { components, paths } from "./schema";
export type Schemas = components["schemas"];
/** An RFC 9457 problem detail, as every error of the API answers. */
export type Problem = Schemas["Problem"];
export type CallastarClient = Client<paths>;

export interface CallastarClientOptions {
  /** The gateway's origin, e.g. "https://api.callastar.example"; "" for the same origin. */
  baseUrl: string;
  /** The caller's JWT, or a function giving the current one (tokens expire). */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Another fetch (tests, server-side rendering). */
  fetch?: typeof globalThis.fetch;
}

export function createCallastarClient(options: CallastarClientOptions): CallastarClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  const { token } = options;
  if (token !== undefined) {
    const bearer: Middleware = {
      async onRequest({ request }) {
        const value = typeof token === "function" ? await token() : token;
        if (value) request.headers.set("Authorization", `Bearer ${value}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
