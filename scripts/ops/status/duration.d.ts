/** `1h02m`, `3m05s`, `4.2s`, `350ms`; `-` for no value. */
export function duration(ms: number | null | undefined): string;
