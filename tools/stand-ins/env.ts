/**
 * Sets environment variables (undefined removes one) and returns what puts the previous values back.
 * Free of Functions code, so local-host tests may use it before the host loads @azure/functions.
 */
export function setEnv(vars: Readonly<Record<string, string | undefined>>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(vars)) {
    saved[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
