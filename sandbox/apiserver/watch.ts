/**
 * `?watch=true`: newline-delimited JSON watch events ({type, object}) over a chunked answer, for
 * every resource. Without a resourceVersion (or with "0") the watch starts with ADDED events for
 * what exists; with one it replays later events from the store's history, or sends an ERROR
 * event with 410 Expired when that point is too old. Label/field selectors filter events; an
 * object that stops matching is not turned into a DELETED event as the watch cache would.
 */
import type { ServerResponse } from 'node:http'
import type { KubeObject } from '../types.js'
import type { ResourceHandlers, ResourceRequest } from './handlers.js'
import { present } from './objects.js'
import { gone } from './status.js'
import type { MemoryStore } from './store.js'

export interface ActiveWatch {
  stop(): void
}

export function serveWatch(
  req: ResourceRequest,
  res: ServerResponse,
  store: MemoryStore,
  handlers: ResourceHandlers,
  onEnd: () => void,
  /** How each event's object is shown (a Table row when kubectl asks for tables). */
  render: (obj: KubeObject) => unknown = (obj) => present(req.info, obj, req.version)
): ActiveWatch {
  const matches = handlers.matcher(req)
  const write = (type: string, object: unknown): void => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`)
  }
  const send = (type: string, obj: KubeObject): void => {
    write(type, render(obj))
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
  res.flushHeaders()

  let stopped = false
  const unsubscribe = store.onChange((event) => {
    if (event.resource === req.info.name && matches(event.object)) send(event.type, event.object)
  })
  const stop = (): void => {
    if (stopped) return
    stopped = true
    unsubscribe()
    clearTimeout(timer)
    if (!res.writableEnded) res.end()
    onEnd()
  }
  const timeoutSeconds = Number(req.query.get('timeoutSeconds') ?? '0')
  const timer = setTimeout(stop, timeoutSeconds > 0 ? timeoutSeconds * 1000 : 30 * 60 * 1000)
  res.on('close', stop)

  const from = req.query.get('resourceVersion') ?? ''
  if (from === '' || from === '0') {
    for (const obj of handlers.select(req)) send('ADDED', obj)
  } else {
    const events = store.eventsSince(Number(from))
    if (!events) {
      write('ERROR', gone(`too old resource version: ${from} (${store.resourceVersion()})`).status)
      stop()
    } else {
      for (const e of events) {
        if (e.resource === req.info.name && matches(e.object)) send(e.type, e.object)
      }
    }
  }
  return { stop }
}
