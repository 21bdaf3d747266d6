import { createServer, type Server } from 'node:http';
import type { StatusReporter } from '../core/relay/status-reporter.ts';

/**
 * The relay's HTTP surface (Cloud Run probes): `/readyz` answers 200 once every stream's subscription is
 * proven by data (the startup probe gates rollouts on it), `/healthz` 200 while every stream is recorded
 * up to within the stale threshold (the liveness probe restarts a wedged instance). Both return the
 * health JSON with counters, gauges and per-stream lags.
 */
export function createHealthServer(reporter: StatusReporter): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const snapshot = reporter.snapshot();
    const ok = path === '/readyz' ? snapshot.ready === true : snapshot.healthy === true;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot));
  });
}
