/**
 * Reads `infra/*.tf` with @cdktf/hcl2json (Terraform cannot run here) into one object, and
 * evaluates the few expression shapes the infra uses for the figures tests compare with the
 * engine: literals, `local.x`, `var.x` (its default), `tostring(…)`, `a + b`, `"${…}s"` and the
 * topology switch `local.is_push ? local.a : local.b`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Loaded untyped on purpose: its declarations reference `lib="dom"`, which would retype globals
// (fetch bodies, `performance`) for the whole project.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as { parse(filename: string, contents: string): Promise<unknown> };

export const INFRA_DIR = join(import.meta.dirname, '..', '..', 'infra');

type Json = Record<string, unknown>;
export type Topology = 'push' | 'pull';

export interface Terraform {
  locals: Json;
  variables: Record<string, Json>;
  /** resource type → name → body (first block). */
  resources: Record<string, Record<string, Json>>;
  outputs: Record<string, Json>;
  terraform: Json;
  /** Evaluates an expression for a topology (see the module comment). */
  evaluate(expr: unknown, topology?: Topology): unknown;
  local(name: string, topology?: Topology): unknown;
}

function firstBlocks(section: unknown): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, blocks] of Object.entries((section ?? {}) as Record<string, Json[]>)) out[name] = blocks[0]!;
  return out;
}

export async function loadTerraform(): Promise<Terraform> {
  const files = (await readdir(INFRA_DIR)).filter((f) => f.endsWith('.tf')).sort();
  const locals: Json = {};
  const variables: Record<string, Json> = {};
  const resources: Record<string, Record<string, Json>> = {};
  const outputs: Record<string, Json> = {};
  let terraform: Json = {};
  for (const file of files) {
    const json = (await parse(file, await readFile(join(INFRA_DIR, file), 'utf8'))) as Json;
    for (const block of (json.locals ?? []) as Json[]) Object.assign(locals, block);
    Object.assign(variables, firstBlocks(json.variable));
    Object.assign(outputs, firstBlocks(json.output));
    for (const [type, byName] of Object.entries((json.resource ?? {}) as Record<string, unknown>)) {
      resources[type] = { ...resources[type], ...firstBlocks(byName) };
    }
    if (json.terraform) terraform = (json.terraform as Json[])[0]!;
  }

  const evaluate = (expr: unknown, topology: Topology = 'push'): unknown => {
    if (typeof expr !== 'string') return expr;
    const whole = /^\$\{(.*)\}$/s.exec(expr);
    if (whole && !whole[1]!.includes('${')) return evalInner(whole[1]!.trim(), topology);
    // A template with text around interpolations: "${local.x}s".
    return expr.replace(/\$\{([^}]*)\}/g, (_, inner: string) => String(evalInner(inner.trim(), topology)));
  };

  const evalInner = (inner: string, topology: Topology): unknown => {
    let m: RegExpExecArray | null;
    if (/^-?\d+(\.\d+)?$/.test(inner)) return Number(inner);
    if ((m = /^"([^"]*)"$/.exec(inner))) return m[1];
    if (inner === 'var.topology == "push"') return topology === 'push';
    if ((m = /^local\.(\w+) \? local\.(\w+) : local\.(\w+)$/.exec(inner))) {
      return evalInner(`local.${(evalInner(`local.${m[1]}`, topology) ? m[2] : m[3])!}`, topology);
    }
    if ((m = /^tostring\((.*)\)$/.exec(inner))) return String(evalInner(m[1]!.trim(), topology));
    if ((m = /^(.+?) \+ (.+)$/.exec(inner))) return Number(evalInner(m[1]!, topology)) + Number(evalInner(m[2]!, topology));
    if ((m = /^local\.(\w+)$/.exec(inner))) {
      if (!(m[1]! in locals)) throw new Error(`no local.${m[1]}`);
      return evaluate(locals[m[1]!], topology);
    }
    if ((m = /^var\.(\w+)$/.exec(inner))) {
      const v = variables[m[1]!];
      if (!v || !('default' in v)) throw new Error(`var.${m[1]} has no default`);
      return v.default;
    }
    throw new Error(`cannot evaluate \${${inner}} here`);
  };

  return { locals, variables, resources, outputs, terraform, evaluate, local: (name, topology) => evaluate(`\${local.${name}}`, topology) };
}

/** The `env` entries of a container: `dynamic "env"` for_each expressions. */
export function dynamicEnvSources(container: Json): string[] {
  const dynamic = (container.dynamic ?? {}) as Record<string, Json[]>;
  return (dynamic.env ?? []).map((d) => String(d.for_each));
}

/** Names of the locals merged by `${merge(local.a, local.b, var.extra_env)}`. */
export function mergedLocals(forEach: string): string[] {
  const m = /^\$\{merge\((.*)\)\}$/.exec(forEach);
  const parts = m ? m[1]!.split(',').map((s) => s.trim()) : [forEach.replace(/^\$\{|\}$/g, '')];
  return parts.filter((p) => p.startsWith('local.')).map((p) => p.slice('local.'.length));
}
