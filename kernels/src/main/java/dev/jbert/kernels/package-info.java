/**
 * The compute ops of BERT (GEMM, softmax, LayerNorm, GELU, AdamW, ...) behind one backend
 * interface, with a pure-Java CPU backend and a CUDA backend. Empty until the kernels issue lands;
 * the module exists now so that the dependency graph (core uses tokenizer and kernels, which know
 * nothing of each other) is fixed from the start.
 */
package dev.jbert.kernels;
