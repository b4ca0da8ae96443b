/** Progress and notes of a local command, on stderr so stdout stays the command's output. */
export const stderrLog = (line: string): void => console.error(`kiln: ${line}`);
