// Knowledge: a widget's files read into passages that keep their location,
// and the ranking functions retrieval is built from. The stores, the proxy
// pipeline, the admin API and the CLI use these; nothing here touches a
// store or a request.
export { chunkBlocks, describeLocation, type ChunkOptions, type Passage, type PassageLocation } from './chunk.js';
export { decodeText, detectFormat, formatFromName, supportedFormatList } from './detect.js';
export { createEmbeddings, isEmbeddingsUnavailable, type EmbeddingsOptions, type EmbeddingsResult } from './embeddings.js';
export { extractBlocks, type ExtractedFile } from './extract-file.js';
export { KnowledgeExtractor, type KnowledgeExtractorOptions, type ProcessOptions } from './extractor.js';
export { KnowledgeFileError } from './knowledge-error.js';
export {
  KnowledgeIndex,
  type IndexedPassage,
  type KnowledgeIndexOptions,
  type KnowledgeSearchHit,
  type KnowledgeSearchOptions,
  type KnowledgeSearchResult,
  type RetrievalMode,
  type Retriever,
  type RetrieverStanding,
} from './knowledge-index.js';
export {
  Bm25Index,
  bytesToVector,
  cosineSimilarity,
  nearestVectors,
  normalizeVector,
  reciprocalRankFusion,
  searchTerms,
  vectorToBytes,
  type Bm25Options,
  type FusedResult,
  type FusionOptions,
  type ScoredId,
} from './rank.js';
export { keywordQuery, messageText, searchQueryFor, type ConversationMessage, type SearchQuery, type SearchQueryOptions } from './search-query.js';
export {
  KNOWLEDGE_FORMATS,
  resolveExtractionLimits,
  type BlockKind,
  type ExtractionLimits,
  type KnowledgeFileInput,
  type KnowledgeFileProblem,
  type KnowledgeFormat,
  type ResolvedExtractionLimits,
  type TextBlock,
} from './types.js';
export type { ProcessedFile } from './worker-protocol.js';
