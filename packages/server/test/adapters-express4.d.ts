// `express4` is an npm alias of express@4 (for the adapter tests); its API matches these types where the tests use it.
declare module 'express4' {
  import express from 'express';
  export default express;
}
