/** The wire layer's public part: how a map's function is given, and the errors a map can end with. */
export { moduleFunction, type ModuleFunction, type MapFunction } from "./function-ref.js";
export {
  FunctionShippingError,
  ItemChangedError,
  ItemSerializationError,
  MemoryValueError,
  WireFormatError,
  RemoteError,
  RemoteCause,
  type RemoteErrorDetails,
} from "./errors.js";
export type { SerializedError } from "./remote-error.js";
