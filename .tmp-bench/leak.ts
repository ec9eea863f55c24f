import { createServer } from 'node:http';
import { getEventListeners } from 'node:events';
import { request } from 'undici';
import { GoogleGenAI } from '@google/genai';
const server = createServer((req, res) => { req.resume(); res.setHeader('content-type','application/json'); res.end(JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] } }] })); });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as any).port}`;
const c = new AbortController();
for (let i = 0; i < 50; i++) { const r = await fetch(url, { signal: c.signal }); await r.text(); }
console.log('fetch listeners', getEventListeners(c.signal, 'abort').length);
const c2 = new AbortController();
for (let i = 0; i < 50; i++) { const r = await request(url, { signal: c2.signal }); await r.body.text(); }
console.log('undici.request listeners', getEventListeners(c2.signal, 'abort').length);
const c3 = new AbortController();
const ai = new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: url } });
for (let i = 0; i < 50; i++) await ai.models.generateContent({ model: 'm', contents: 'hi', config: { abortSignal: c3.signal } });
console.log('genai listeners', getEventListeners(c3.signal, 'abort').length);
server.close();
