/** Wall time per pipeline step, for the job's final log line and the demo's timing table. */
export class StepTimer {
  readonly #steps: Array<{ step: string; ms: number; ok: boolean }> = [];

  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    let ok = false;
    try {
      const value = await fn();
      ok = true;
      return value;
    } finally {
      this.#steps.push({ step, ms: Math.round(performance.now() - start), ok });
    }
  }

  /** `{ download: 12, context: 3, gemini: 840, … }` in milliseconds; failed steps get a `!` suffix. */
  summary(): Record<string, number> {
    return Object.fromEntries(this.#steps.map((s) => [s.ok ? s.step : `${s.step}!`, s.ms]));
  }
}
