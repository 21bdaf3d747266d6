import { BigQueryHttpError, duplicate, invalid, notFound, unsupported } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import { insertAll, type RowCounters } from './insert-all.ts';
import type { InsertDedup } from './insert-dedup.ts';
import type { IngestionCounters } from './ingestion-bytes.ts';
import { jobResource, type JobStore } from './jobs.ts';
import { queryBytes, queryResponse, runQueryJob, type QuerySpec } from './queries.ts';
import { encodeRows, timestampFormatOf, type TimestampFormat } from './rows-format.ts';
import { modeOf, normalizeSchema, type BqField } from './schema-types.ts';
import { rewriteSql } from './sql-rewrite.ts';
import type { DatasetRecord, TableRecord, Warehouse } from './warehouse.ts';

/** What the API handlers work with. */
export interface ApiContext {
  warehouse: Warehouse;
  jobs: JobStore;
  dedup: InsertDedup;
  faults: FaultInjector;
  rows: RowCounters;
  ingestion: IngestionCounters;
  projectIds: readonly string[];
  now: () => number;
}

/** A handler's answer: a JSON body, or no body (204). */
export interface Reply {
  status: number;
  body?: unknown;
}

export interface RouteRequest {
  params: string[];
  query: URLSearchParams;
  body: () => Promise<unknown>;
}

interface Route {
  method: string;
  pattern: RegExp;
  name: string;
  handle: (ctx: ApiContext, req: RouteRequest) => Promise<Reply>;
}

const DATASET_ID_RE = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE_ID_RE = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]{1,1024}$/u;
const DEFAULT_LIST_ROWS = 100_000;
const PARTITION_TYPES = new Set(['DAY', 'HOUR', 'MONTH', 'YEAR']);

const ok = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };
const asObject = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalid(`Invalid value for ${name}: ${raw}`);
  return n;
}

const timestampFormatFromQuery = (query: URLSearchParams): TimestampFormat =>
  timestampFormatOf(
    query.get('formatOptions.useInt64Timestamp'),
    query.get('formatOptions.timestampOutputFormat'),
  );

/** Fields the server computes; a request's values for them are ignored. */
const COMPUTED = [
  'kind',
  'id',
  'etag',
  'selfLink',
  'creationTime',
  'lastModifiedTime',
  'numRows',
  'numBytes',
  'type',
];

function storedFields(body: Record<string, unknown>, drop: string[]): Record<string, unknown> {
  const kept = { ...body };
  for (const key of [...COMPUTED, ...drop]) delete kept[key];
  return kept;
}

function datasetResource(projectId: string, record: DatasetRecord): Record<string, unknown> {
  const { datasetId } = record;
  return {
    location: 'US',
    ...record.resource,
    kind: 'bigquery#dataset',
    etag: `"${datasetId}"`,
    id: `${projectId}:${datasetId}`,
    selfLink: `/bigquery/v2/projects/${projectId}/datasets/${datasetId}`,
    datasetReference: { projectId, datasetId },
    type: 'DEFAULT',
  };
}

function tableResource(projectId: string, table: TableRecord, numRows?: number): Record<string, unknown> {
  const { datasetId, tableId } = table;
  const resource: Record<string, unknown> = {
    location: 'US',
    ...table.resource,
    kind: 'bigquery#table',
    etag: `"${datasetId}.${tableId}"`,
    id: `${projectId}:${datasetId}.${tableId}`,
    selfLink: `/bigquery/v2/projects/${projectId}/datasets/${datasetId}/tables/${tableId}`,
    tableReference: { projectId, datasetId, tableId },
    schema: { fields: table.schema },
    type: table.type,
  };
  if (numRows !== undefined) {
    resource.numRows = String(numRows);
    resource.numBytes = '0';
    resource.numLongTermBytes = '0';
  }
  return resource;
}

/** BigQuery refuses partitioning and clustering on columns that cannot hold them; so does the stand-in. */
function checkLayout(body: Record<string, unknown>, fields: BqField[]): void {
  const top = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const partitioning = body.timePartitioning as { type?: string; field?: string } | undefined;
  if (partitioning) {
    if (!PARTITION_TYPES.has(partitioning.type ?? 'DAY')) {
      throw invalid(`Invalid timePartitioning.type: ${partitioning.type}`);
    }
    if (partitioning.field !== undefined) {
      const field = top.get(partitioning.field.toLowerCase());
      if (!field || !['TIMESTAMP', 'DATE', 'DATETIME'].includes(field.type) || modeOf(field) === 'REPEATED') {
        throw invalid(
          `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME: ${partitioning.field}`,
        );
      }
    }
  }
  const clustering = body.clustering as { fields?: string[] } | undefined;
  if (clustering) {
    const names = clustering.fields ?? [];
    if (!Array.isArray(names) || names.length === 0 || names.length > 4) {
      throw invalid('Clustering must have between 1 and 4 fields');
    }
    for (const name of names) {
      const field = top.get(String(name).toLowerCase());
      if (
        !field ||
        field.type === 'RECORD' ||
        field.type === 'JSON' ||
        field.type === 'FLOAT' ||
        modeOf(field) === 'REPEATED'
      ) {
        throw invalid(`The field specified for clustering cannot be used: ${name}`);
      }
    }
  }
}

async function createDataset(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [projectId = ''] = req.params;
  const body = asObject(await req.body());
  const datasetId = asObject(body.datasetReference).datasetId;
  if (typeof datasetId !== 'string' || !DATASET_ID_RE.test(datasetId)) {
    throw invalid(
      `Invalid dataset ID "${String(datasetId)}". Dataset IDs must be alphanumeric (plus underscores)`,
    );
  }
  const now = String(ctx.now());
  const resource = { ...storedFields(body, ['datasetReference']), creationTime: now, lastModifiedTime: now };
  const record = await ctx.warehouse.createDataset(datasetId, resource);
  return ok(datasetResource(projectId, record));
}

async function createTable(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [projectId = '', datasetId = ''] = req.params;
  const body = asObject(await req.body());
  const tableId = asObject(body.tableReference).tableId;
  if (typeof tableId !== 'string' || !TABLE_ID_RE.test(tableId))
    throw invalid(`Invalid table ID "${String(tableId)}"`);
  const now = String(ctx.now());
  const resource = {
    ...storedFields(body, ['tableReference', 'schema']),
    creationTime: now,
    lastModifiedTime: now,
  };
  const view = body.view === undefined ? undefined : asObject(body.view);
  let record: TableRecord;
  if (view) {
    if (typeof view.query !== 'string') throw invalid('A view needs view.query');
    if (view.useLegacySql === true) throw unsupported('legacy SQL views');
    const viewSql = rewriteSql(view.query, { projectIds: [...ctx.projectIds, projectId] }).sql;
    record = await ctx.warehouse.createTable(datasetId, tableId, resource, { viewSql });
  } else {
    const schema = normalizeSchema(asObject(body.schema).fields);
    checkLayout(body, schema);
    record = await ctx.warehouse.createTable(datasetId, tableId, resource, { schema });
  }
  ctx.dedup.dropTable(`${datasetId}.${tableId}`);
  return ok(tableResource(projectId, record, record.type === 'TABLE' ? 0 : undefined));
}

/** tables.patch: only a view's SQL changes (the compactor publishes its boundary this way). */
async function patchView(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [projectId = '', datasetId = '', tableId = ''] = req.params;
  const body = asObject(await req.body());
  const view = asObject(body.view);
  if (typeof view.query !== 'string') throw unsupported('tables.patch of anything but view.query');
  if (view.useLegacySql === true) throw unsupported('legacy SQL views');
  const { table } = await ctx.warehouse.getTable(datasetId, tableId);
  const resource = {
    ...table.resource,
    ...storedFields(body, ['tableReference', 'schema']),
    lastModifiedTime: String(ctx.now()),
  };
  const viewSql = rewriteSql(view.query, { projectIds: [...ctx.projectIds, projectId] }).sql;
  const record = await ctx.warehouse.replaceView(datasetId, tableId, resource, viewSql);
  return ok(tableResource(projectId, record));
}

async function listRows(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [, datasetId = '', tableId = ''] = req.params;
  const pageToken = req.query.get('pageToken');
  const offset = pageToken ? Number(pageToken) : (intParam(req.query, 'startIndex') ?? 0);
  if (!Number.isInteger(offset) || offset < 0) throw invalid(`Invalid page token: ${pageToken}`);
  const limit = intParam(req.query, 'maxResults') ?? DEFAULT_LIST_ROWS;
  const selected = req.query.get('selectedFields')?.split(',').filter(Boolean);
  const page = await ctx.warehouse.readRows(datasetId, tableId, offset, limit, selected);
  const body: Record<string, unknown> = {
    kind: 'bigquery#tableDataList',
    etag: `"${datasetId}.${tableId}.${page.totalRows}"`,
    totalRows: String(page.totalRows),
    rows: encodeRows(page.fields, page.rows, timestampFormatFromQuery(req.query)),
  };
  if (offset + page.rows.length < page.totalRows && page.rows.length > 0) {
    body.pageToken = String(offset + page.rows.length);
  }
  return ok(body);
}

async function jobsQuery(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [projectId = ''] = req.params;
  const body = asObject(await req.body());
  const requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
  const deps = { warehouse: ctx.warehouse, jobs: ctx.jobs, projectIds: ctx.projectIds };
  if (body.dryRun === true) {
    const totalBytesProcessed = String(await queryBytes(deps, body as QuerySpec));
    return ok({ kind: 'bigquery#queryResponse', jobComplete: true, totalBytesProcessed, cacheHit: false });
  }
  const job =
    (requestId ? ctx.jobs.byRequestId(requestId) : undefined) ??
    (await runQueryJob(
      deps,
      body as QuerySpec,
      { projectId, location: typeof body.location === 'string' ? body.location : undefined, requestId },
      // As BigQuery's jobs.get shows a jobs.query job: with its parameters and byte cap.
      {
        query: {
          query: body.query,
          useLegacySql: false,
          ...(body.queryParameters === undefined ? {} : { queryParameters: body.queryParameters }),
          ...(body.parameterMode === undefined ? {} : { parameterMode: body.parameterMode }),
          ...(body.maximumBytesBilled === undefined ? {} : { maximumBytesBilled: body.maximumBytesBilled }),
        },
      },
      true,
    ));
  const format = asObject(body.formatOptions);
  return ok(
    queryResponse(
      job,
      {
        maxResults: typeof body.maxResults === 'number' ? body.maxResults : undefined,
        timestampFormat: timestampFormatOf(format.useInt64Timestamp, format.timestampOutputFormat),
      },
      'bigquery#queryResponse',
    ),
  );
}

async function insertJob(ctx: ApiContext, req: RouteRequest): Promise<Reply> {
  const [projectId = ''] = req.params;
  const body = asObject(await req.body());
  const reference = asObject(body.jobReference);
  const configuration = asObject(body.configuration);
  const jobId = typeof reference.jobId === 'string' ? reference.jobId : undefined;
  const location = typeof reference.location === 'string' ? reference.location : 'US';
  if (jobId && ctx.jobs.has(jobId)) throw duplicate(`Job ${projectId}:${location}.${jobId}`);
  if (configuration.query === undefined)
    throw unsupported('jobs other than query jobs (load, copy, extract)');
  const spec = asObject(configuration.query) as QuerySpec;
  const deps = { warehouse: ctx.warehouse, jobs: ctx.jobs, projectIds: ctx.projectIds };
  if (configuration.dryRun === true) {
    return ok({
      ...jobResource({
        projectId,
        jobId: jobId ?? 'dry_run',
        location,
        configuration,
        fields: [],
        rows: [],
        totalBytesProcessed: await queryBytes(deps, spec),
        creationTime: ctx.now(),
        endTime: ctx.now(),
      }),
    });
  }
  const job = await runQueryJob(deps, spec, { projectId, jobId, location }, configuration, false);
  return ok(jobResource(job));
}

function requireJob(ctx: ApiContext, projectId: string, jobId: string) {
  const job = ctx.jobs.get(jobId);
  if (!job) throw notFound(`Job ${projectId}:${jobId}`);
  return job;
}

/** The subset of the BigQuery REST v2 API the project uses, by method and path (after /bigquery/v2). */
const ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/projects\/([^/]+)\/datasets$/,
    name: 'datasets.insert',
    handle: createDataset,
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/datasets$/,
    name: 'datasets.list',
    handle: async (ctx, { params: [projectId = ''] }) => {
      const datasets = await ctx.warehouse.listDatasets();
      return ok({
        kind: 'bigquery#datasetList',
        etag: '"datasets"',
        datasets: datasets.map((d) => {
          const { kind, id, datasetReference, location } = datasetResource(projectId, d);
          return { kind, id, datasetReference, location };
        }),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)$/,
    name: 'datasets.get',
    handle: async (ctx, { params: [projectId = '', datasetId = ''] }) =>
      ok(datasetResource(projectId, await ctx.warehouse.getDataset(datasetId))),
  },
  {
    method: 'DELETE',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)$/,
    name: 'datasets.delete',
    handle: async (ctx, { params: [, datasetId = ''], query }) => {
      await ctx.warehouse.deleteDataset(datasetId, query.get('deleteContents') === 'true');
      ctx.dedup.dropPrefix(`${datasetId}.`);
      return noContent;
    },
  },
  {
    method: 'POST',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/,
    name: 'tables.insert',
    handle: createTable,
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/,
    name: 'tables.list',
    handle: async (ctx, { params: [projectId = '', datasetId = ''] }) => {
      const tables = await ctx.warehouse.listTables(datasetId);
      return ok({
        kind: 'bigquery#tableList',
        etag: `"${datasetId}.tables"`,
        totalItems: tables.length,
        tables: tables.map(({ tableId, type }) => ({
          kind: 'bigquery#table',
          id: `${projectId}:${datasetId}.${tableId}`,
          tableReference: { projectId, datasetId, tableId },
          type,
        })),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
    name: 'tables.get',
    handle: async (ctx, { params: [projectId = '', datasetId = '', tableId = ''] }) => {
      const { table, numRows } = await ctx.warehouse.getTable(datasetId, tableId);
      return ok(tableResource(projectId, table, numRows));
    },
  },
  {
    method: 'PATCH',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
    name: 'tables.patch',
    handle: patchView,
  },
  {
    method: 'DELETE',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
    name: 'tables.delete',
    handle: async (ctx, { params: [, datasetId = '', tableId = ''] }) => {
      await ctx.warehouse.deleteTable(datasetId, tableId);
      ctx.dedup.dropTable(`${datasetId}.${tableId}`);
      return noContent;
    },
  },
  {
    method: 'POST',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/,
    name: 'tabledata.insertAll',
    handle: async (ctx, req) => {
      const [, datasetId = '', tableId = ''] = req.params;
      return ok(await insertAll(ctx, datasetId, tableId, await req.body()));
    },
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/data$/,
    name: 'tabledata.list',
    handle: listRows,
  },
  { method: 'POST', pattern: /^\/projects\/([^/]+)\/queries$/, name: 'jobs.query', handle: jobsQuery },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/queries\/([^/]+)$/,
    name: 'jobs.getQueryResults',
    handle: async (ctx, { params: [projectId = '', jobId = ''], query }) =>
      ok(
        queryResponse(
          requireJob(ctx, projectId, jobId),
          {
            maxResults: intParam(query, 'maxResults'),
            startIndex: intParam(query, 'startIndex'),
            pageToken: query.get('pageToken') ?? undefined,
            timestampFormat: timestampFormatFromQuery(query),
          },
          'bigquery#getQueryResultsResponse',
        ),
      ),
  },
  { method: 'POST', pattern: /^\/projects\/([^/]+)\/jobs$/, name: 'jobs.insert', handle: insertJob },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/jobs$/,
    name: 'jobs.list',
    handle: async (ctx) =>
      ok({ kind: 'bigquery#jobList', etag: '"jobs"', jobs: ctx.jobs.list().map(jobResource) }),
  },
  {
    method: 'GET',
    pattern: /^\/projects\/([^/]+)\/jobs\/([^/]+)$/,
    name: 'jobs.get',
    handle: async (ctx, { params: [projectId = '', jobId = ''] }) =>
      ok(jobResource(requireJob(ctx, projectId, jobId))),
  },
  {
    method: 'POST',
    pattern: /^\/projects\/([^/]+)\/jobs\/([^/]+)\/cancel$/,
    name: 'jobs.cancel',
    handle: async (ctx, { params: [projectId = '', jobId = ''] }) =>
      ok({ kind: 'bigquery#jobCancelResponse', job: jobResource(requireJob(ctx, projectId, jobId)) }),
  },
  {
    method: 'DELETE',
    pattern: /^\/projects\/([^/]+)\/jobs\/([^/]+)\/delete$/,
    name: 'jobs.delete',
    handle: async (ctx, { params: [projectId = '', jobId = ''] }) => {
      requireJob(ctx, projectId, jobId);
      ctx.jobs.delete(jobId);
      return noContent;
    },
  },
];

/** Finds the route for a request; path is without the optional /bigquery/v2 prefix. */
export function matchRoute(
  method: string,
  path: string,
): { name: string; params: string[]; handle: Route['handle'] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m)
      return { name: route.name, params: m.slice(1).map((p) => decodeURIComponent(p)), handle: route.handle };
  }
  return undefined;
}

/** The answer for a path no route serves: 404 in Google's error shape (or 501 for known but unsupported APIs). */
export function unknownRoute(method: string, path: string): BigQueryHttpError {
  if (ROUTES.some((r) => r.pattern.test(path))) {
    return unsupported(`${method} ${path}`);
  }
  return new BigQueryHttpError(404, 'notFound', `Not found: ${method} ${path}`);
}
