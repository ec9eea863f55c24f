/** Shapes of the context step (SPEC §3.2 step 4). */

/** One part of the user turn sent to Gemini. */
export type ContextPart = { text: string } | { inlineData: { mimeType: string; data: string } };

export interface BuiltContext {
  systemInstruction: string;
  parts: ContextPart[];
  /** For the reply, in plain words: files not read and why, and a shortened context. */
  notes: string[];
  knowledge: {
    /** Knowledge documents sent to the model. */
    files: number;
    /** One line per T1–T5 fallback taken while building this context (knowledge, prompt, attachments, assembly). */
    fallbacks: string[];
  };
}
