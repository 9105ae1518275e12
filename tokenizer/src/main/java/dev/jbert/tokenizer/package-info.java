/**
 * A pure-Java BERT WordPiece tokenizer that matches Hugging Face's {@code BertTokenizerFast}:
 * ids, token type ids, offsets in code points, question/context pairs and sliding windows.
 * Start at {@link dev.jbert.tokenizer.BertTokenizer}.
 */
package dev.jbert.tokenizer;
