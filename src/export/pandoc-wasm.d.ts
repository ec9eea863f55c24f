// pandoc-wasm ships no type declarations; only `convert` is used (see pandoc-worker.ts).
declare module 'pandoc-wasm' {
  export function convert(
    options: Record<string, unknown>,
    stdin: string | null,
    files: Record<string, string | Blob>,
  ): Promise<{ stdout: string; stderr: string; warnings: unknown[]; files: Record<string, Blob>; mediaFiles: Record<string, Blob> }>;
}
