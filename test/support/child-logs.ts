/** Output of child processes this test file ran (netlify dev), for the log scan in no-secrets-in-logs.ts. */
export const childLogs: string[] = [];
