/**
 * How the native backend replaces one of tfjs's cpu kernels: its own
 * function for the cases it speeds up, the cpu kernel for all others
 * (dtypes, ranks or attributes it does not cover), so every call still
 * gets an answer.
 *
 * @module
 */
import { tf } from "../tf.ts";

/** A replacement kernel: its outputs, or undefined to hand the call to the cpu kernel. */
export type FastKernel = (
  args: Parameters<tf.KernelFunc>[0],
) => tf.TensorInfo | tf.TensorInfo[] | undefined;

/** The config of kernel `name` on `backendName`: `fast` where it answers, cpu's elsewhere. */
export function overrideCpu(name: string, backendName: string, fast: FastKernel): tf.KernelConfig {
  const cpu = tf.getKernel(name, "cpu")!.kernelFunc;
  return { kernelName: name, backendName, kernelFunc: (args) => fast(args) ?? cpu(args) };
}
