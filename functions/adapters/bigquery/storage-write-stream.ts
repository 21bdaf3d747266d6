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

  constructor(
    private readonly client: managedwriter.WriterClient,
    /** `projects/P/datasets/D/tables/T` */
    private readonly tablePath: string,
    private readonly descriptor: DescriptorProto,
    private readonly onConnectionError: (error: Error) => void,
  ) {}

  /** Appends serialized rows; resolves with the service's answer (which may carry an error). */
  async append(rows: Uint8Array[], timeoutMs: number): Promise<AppendRowsResponse> {
    const writer = await this.writer();
    const pending = writer.appendRows({ serializedRows: rows });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppendTimeoutError(`AppendRows timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([pending.getResult(), timeout]);
    } catch (error) {
      this.drop(writer);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; appends still on it reject. Safe to call twice. */
  close(): void {
    const live = this.live;
    this.current = undefined;
    this.live = undefined;
    if (!live) return;
    for (const pending of live.connection.getPendingWrites()) pending.abort();
    // close() only ends our side; an append the service never answered would keep the gRPC call, and so
    // the channel and the process, alive: cancel the call itself.
    (live.connection as unknown as { _connection?: { cancel?(): void } })._connection?.cancel?.();
    live.connection.close();
  }

  private writer(): Promise<managedwriter.Writer> {
    this.current ??= this.open().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  private async open(): Promise<managedwriter.Writer> {
    const connection = await this.client.createStreamConnection({
      streamId: managedwriter.DefaultStream,
      destinationTable: this.tablePath,
    });
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
