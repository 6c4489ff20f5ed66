// The official Elasticsearch JavaScript client drives mockinfer's admin API once.
//
// Usage: node admin_api.mjs http://127.0.0.1:PORT
//
// Adds a one-shot 429 fault, lists it, sees the fault fire on a text embedding request and
// then the real answer, reads the call journal, deletes the fault and resets the server.
// Prints one JSON object on stdout; exits non-zero on anything unexpected.

import { Client, errors } from '@elastic/elasticsearch'

const E5 = '.multilingual-e5-small-elasticsearch'

function check (condition, message) {
  if (!condition) throw new Error(`unexpected: ${message}`)
}

async function admin (client, method, path, body) {
  const params = body === undefined ? { method, path } : { method, path, body }
  return await client.transport.request(params, { meta: true })
}

async function main (url) {
  check(url, 'usage: node admin_api.mjs SERVER_URL')
  const client = new Client({ node: url, requestTimeout: 10000, maxRetries: 0 })
  try {
    const added = await admin(client, 'POST', '/_mockinfer/faults', {
      inference_id: E5,
      status: 429,
      retry_after: 1,
      times: 1
    })
    check(added.statusCode === 201, `POST /_mockinfer/faults gave ${added.statusCode}`)
    const faultId = added.body.id
    check(typeof faultId === 'string', `no fault id in ${JSON.stringify(added.body)}`)

    const listed = await admin(client, 'GET', '/_mockinfer/faults')
    check(
      listed.body.faults.length === 1 && listed.body.faults[0].id === faultId,
      `GET /_mockinfer/faults gave ${JSON.stringify(listed.body)}`
    )

    let rateLimited = null
    try {
      await client.inference.textEmbedding({ inference_id: E5, input: 'hello' })
    } catch (err) {
      if (!(err instanceof errors.ResponseError)) throw err
      rateLimited = {
        status: err.statusCode,
        http_status: err.meta.statusCode,
        type: err.body?.error?.type ?? null,
        reason: err.body?.error?.reason ?? null,
        retry_after: err.headers?.['retry-after'] ?? null,
        product: err.headers?.['x-elastic-product'] ?? null,
        message: err.message
      }
    }
    check(rateLimited !== null, 'the first text embedding request did not fail')

    const embedded = await client.inference.textEmbedding({ inference_id: E5, input: 'hello' })
    const vector = embedded.text_embedding?.[0]?.embedding
    check(Array.isArray(vector), `no embedding in ${JSON.stringify(embedded).slice(0, 200)}`)

    const after = await admin(client, 'GET', '/_mockinfer/faults')
    const fault = after.body.faults.find((f) => f.id === faultId)
    check(fault !== undefined, `fault ${faultId} gone from ${JSON.stringify(after.body)}`)

    const calls = await admin(client, 'GET', '/_mockinfer/calls')
    const deleted = await admin(client, 'DELETE', `/_mockinfer/faults/${encodeURIComponent(faultId)}`)
    const reset = await admin(client, 'POST', '/_mockinfer/reset')

    const summary = {
      fault_id: faultId,
      added_status: added.statusCode,
      added: added.body,
      listed: listed.body.faults.map((f) => f.id),
      hits: fault.hits,
      rate_limited: rateLimited,
      vector_length: vector.length,
      calls: calls.body.calls.map((c) => [c.method, c.path, c.status, c.source]),
      delete_status: deleted.statusCode,
      delete_body: deleted.body,
      reset_status: reset.statusCode,
      reset_body: reset.body
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
  } finally {
    await client.close()
  }
}

main(process.argv[2]).catch((err) => {
  const meta = err?.meta ? ` ${JSON.stringify({ statusCode: err.meta.statusCode, body: err.meta.body })}` : ''
  process.stderr.write(`${err?.stack ?? err}${meta}\n`)
  process.exit(1)
})
