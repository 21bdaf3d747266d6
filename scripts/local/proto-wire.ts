// The few protobuf wire-format reads the counting taps need (field number, wire type, value): enough to
// count the messages of a Publish request or the writes of a Firestore commit without generated code.

/** One field of a protobuf message: varints as numbers, length-delimited values as bytes. */
export type ProtoField =
  | { readonly no: number; readonly wire: 0 | 1 | 5; readonly value: number }
  | { readonly no: number; readonly wire: 2; readonly bytes: Buffer };

/** The top-level fields of `message`, in order; throws on a malformed message. */
export function protoFields(message: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= message.length || shift > 63) throw new Error('truncated protobuf varint');
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (at < message.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (at + size > message.length) throw new Error('truncated protobuf fixed field');
      out.push({ no, wire, value: size });
      at += size;
    } else if (wire === 2) {
      const length = varint();
      if (at + length > message.length) throw new Error('truncated protobuf length-delimited field');
      out.push({ no, wire, bytes: message.subarray(at, at + length) });
      at += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

/** The length-delimited values of field `no`. */
export const bytesOf = (fields: readonly ProtoField[], no: number): Buffer[] =>
  fields.flatMap((f) => (f.no === no && f.wire === 2 ? [f.bytes] : []));
