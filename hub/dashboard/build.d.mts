export function buildDashboard(outDir: string): Promise<void>;
