import { managedwriter, type protos } from '@google-cloud/bigquery-storage';

type AppendRowsResponse = protos.google.cloud.bigquery.storage.v1.IAppendRowsResponse;
type DescriptorProto = protos.google.protobuf.IDescriptorProto;
type StreamConnection = Awaited<ReturnType<managedwriter.WriterClient['createStreamConnection']>>;

/** An append that got no answer in time: the connection it was on has been dropped. */
export class AppendTimeoutError extends Error {
  override readonly name = 'AppendTimeoutError';
}

/**
 * One table's `_default` write stream over one AppendRows connection, with appends pipelined on it.
 * The managed writer matches answers to appends by order; an append that fails or times out leaves
 * that order in doubt, so the connection is dropped with every append still on it (each rejects) and
 * the next append opens a fresh one. Nothing pending on a dropped connection is reported stored.
 */
export class DefaultStream {
  private current: Promise<managedwriter.Writer> | undefined;
  private live: { writer: managedwriter.Writer; connection: StreamConnection } | undefined;
  private generation = 0;

  constructor(
    private readonly client: managedwriter.WriterClient,
    /** `projects/P/datasets/D/tables/T` */
    private readonly tablePath: string,
    private readonly descriptor: DescriptorProto,
    private readonly onConnectionError: (error: Error) => void,
  ) {}

  /**
   * Appends serialized rows; resolves with the service's answer (which may carry an error). Opening the
   * connection and the append each have `timeoutMs`: past it the append rejects and its connection is dropped.
   */
  async append(rows: Uint8Array[], timeoutMs: number): Promise<AppendRowsResponse> {
    const opening = this.writer();
    let writer: managedwriter.Writer | undefined;
    try {
      writer = await withDeadline(opening, timeoutMs, 'AppendRows connection not opened');
      const pending = writer.appendRows({ serializedRows: rows });
      return await withDeadline(pending.getResult(), timeoutMs, 'AppendRows timed out');
    } catch (error) {
      if (writer) this.drop(writer);
      else if (this.current === opening) this.forget(); // an open that hangs is not waited on again
      throw error;
    }
  }

  /** Closes the connection; appends still on it reject. Safe to call twice. */
  close(): void {
    const live = this.live;
    this.forget();
    this.live = undefined;
    if (!live) return;
    for (const pending of live.connection.getPendingWrites()) pending.abort();
    // close() only ends our side; an append the service never answered would keep the gRPC call, and so
    // the channel and the process, alive: cancel the call itself.
    (live.connection as unknown as { _connection?: { cancel?(): void } })._connection?.cancel?.();
    live.connection.close();
  }

  /** The next append opens a new connection; an open still under way closes what it opens. */
  private forget(): void {
    this.current = undefined;
    this.generation++;
  }

  private writer(): Promise<managedwriter.Writer> {
    if (this.current) return this.current;
    const opening: Promise<managedwriter.Writer> = this.open(this.generation).catch((error: unknown) => {
      if (this.current === opening) this.current = undefined;
      throw error;
    });
    this.current = opening;
    return opening;
  }

  private async open(generation: number): Promise<managedwriter.Writer> {
    const connection = await this.client.createStreamConnection({
      streamId: managedwriter.DefaultStream,
      destinationTable: this.tablePath,
    });
    if (generation !== this.generation) {
      connection.close();
      throw new AppendTimeoutError('AppendRows connection opened after its append gave up');
    }
    // Without a listener, a connection error would be thrown as an uncaught 'error' event.
    connection.onConnectionError((error) => this.onConnectionError(error));
    const writer = new managedwriter.Writer({ connection, protoDescriptor: this.descriptor });
    this.live = { writer, connection };
    return writer;
  }

  /** Drops the connection `writer` was opened on, unless a newer one already replaced it. */
  private drop(writer: managedwriter.Writer): void {
    if (this.live?.writer === writer) this.close();
  }
}

/** `work`, or an AppendTimeoutError once `ms` have passed. */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppendTimeoutError(`${what} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
