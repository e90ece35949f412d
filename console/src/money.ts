// Money arrives as integer minor units plus an ISO 4217 currency; it is shown
// with that currency's own number of decimals (JPY 0, EUR 2, KWD 3).

export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** The exact decimal text of an amount: no floating point on the way. */
export function decimalText(minor: number | bigint, currency: string): string {
  const digits = minorDigits(currency);
  const value = BigInt(minor);
  const negative = value < 0n;
  const text = (negative ? -value : value).toString().padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? `.${text.slice(-digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

export function formatMoney(minor: number | null | undefined, currency: string): string {
  if (minor === null || minor === undefined) return "—";
  const digits = minorDigits(currency);
  const format = new Intl.NumberFormat(undefined, {
    style: "currency", currency, currencyDisplay: "code",
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
  // Intl formats a decimal string exactly (no float rounding on large amounts).
  return format.format(decimalText(minor, currency) as unknown as number);
}

/** "12.5" EUR -> 1250; null when it is not an amount in that currency's decimals. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const match = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  const minor = BigInt(match[1]) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, "0") || "0");
  return minor > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(minor);
}
