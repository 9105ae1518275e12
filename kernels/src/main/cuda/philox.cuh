// The counter-based RNG behind dropout, shared by the kernels that draw its mask (elementwise.cu,
// softmax.cu, attention.cu). Bit for bit dev.jbert.kernels.Philox. Element i of a dropout takes output word
// (i % 32) / 8 of block 8 (i / 32) + i % 8, so the thread that computes one block owns the 4 elements
// 32 t + j + 8 w (w = 0..3) of tile t = block / 8, j = block % 8; kept when the word's top 24 bits
// are >= threshold (= ceil(p * 2^24)).
#pragma once

// Philox4x32-10 (Salmon et al. 2011), exactly as dev.jbert.kernels.Philox: counter (c0..c3), key (k0, k1).
__device__ __forceinline__ void philox(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; round++) {
        unsigned int hi0 = __umulhi(0xD2511F53u, c[0]);
        unsigned int lo0 = 0xD2511F53u * c[0];
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c[2]);
        unsigned int lo1 = 0xCD9E8D57u * c[2];
        c[0] = hi1 ^ c[1] ^ k0;
        c[1] = lo1;
        c[2] = hi0 ^ c[3] ^ k1;
        c[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

// Whether dropout keeps the element that drew `word`: its top 24 bits against threshold = ceil(p * 2^24).
__device__ __forceinline__ bool philox_keeps(unsigned int word, unsigned int threshold) {
    return (word >> 8) >= threshold;
}

// Block `block` of the dropout mask of (seed, stream): its counter is (block, stream), its key the seed.
// c receives the block's 4 output words.
__device__ __forceinline__ void philox_block(unsigned int c[4], long long block, unsigned long long seed,
                                             unsigned long long stream) {
    c[0] = (unsigned int) block;
    c[1] = (unsigned int) ((unsigned long long) block >> 32);
    c[2] = (unsigned int) stream;
    c[3] = (unsigned int) (stream >> 32);
    philox(c, (unsigned int) seed, (unsigned int) (seed >> 32));
}
