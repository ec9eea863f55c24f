/** `email-worker serve`: runs the worker, same as `npm start`. */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('Usage: email-worker serve\n\nRuns the worker with the configuration from the environment (see .env.example).');
    return 0;
  }
  await import('../main.ts');
  // main.ts keeps the process alive and exits on SIGTERM.
  return await new Promise<number>(() => {});
}
