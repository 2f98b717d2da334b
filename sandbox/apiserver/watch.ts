/**
 * `?watch=true`: newline-delimited JSON watch events ({type, object}) over a chunked answer, for
 * every resource. Without a resourceVersion (or with "0") the watch starts with ADDED events for
 * what exists; with one it replays later events from the store's history, or sends an ERROR
 * event with 410 Expired when that point is too old. Label/field selectors filter events; an
 * object that stops matching is not turned into a DELETED event as the watch cache would.
 */
import type { ServerResponse } from 'node:http'
import type { KubeObject, StoreEvent } from '../types.js'
import type { ResourceHandlers, ResourceRequest } from './handlers.js'
import { present } from './objects.js'
import { gone, type Status } from './status.js'
import type { MemoryStore } from './store.js'

export interface ActiveWatch {
  stop(): void
}

/**
 * The events of a watch request, from where it starts, until the returned function is called:
 * without a resourceVersion (or with "0") ADDED for what exists, then every change; with one, the
 * store's history after it, then every change; `gone` instead when that point is older than the
 * history kept. Label and field selectors filter the events. The HTTP server streams them
 * (serveWatch); in-process clients take them as they come.
 */
export function watchEvents(
  req: ResourceRequest,
  store: MemoryStore,
  handlers: ResourceHandlers,
  emit: (type: StoreEvent['type'], obj: KubeObject) => void,
  expired: (status: Status) => void
): () => void {
  const matches = handlers.matcher(req)
  let stopped = false
  const unsubscribe = store.onChange((event) => {
    if (!stopped && event.resource === req.info.name && matches(event.object)) {
      emit(event.type, event.object)
    }
  })
  const stop = (): void => {
    stopped = true
    unsubscribe()
  }
  const from = req.query.get('resourceVersion') ?? ''
  if (from === '' || from === '0') {
    for (const obj of handlers.select(req)) if (!stopped) emit('ADDED', obj)
  } else {
    const events = store.eventsSince(Number(from))
    if (!events) {
      stop()
      expired(gone(`too old resource version: ${from} (${store.resourceVersion()})`).status)
    } else {
      for (const e of events) {
        if (!stopped && e.resource === req.info.name && matches(e.object)) emit(e.type, e.object)
      }
    }
  }
  return stop
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
  const write = (type: string, object: unknown): void => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`)
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
  res.flushHeaders()

  let stopped = false
  let unwatch: () => void = () => undefined
  const stop = (): void => {
    if (stopped) return
    stopped = true
    unwatch()
    clearTimeout(timer)
    if (!res.writableEnded) res.end()
    onEnd()
  }
  const timeoutSeconds = Number(req.query.get('timeoutSeconds') ?? '0')
  const timer = setTimeout(stop, timeoutSeconds > 0 ? timeoutSeconds * 1000 : 30 * 60 * 1000)
  res.on('close', stop)
  unwatch = watchEvents(
    req,
    store,
    handlers,
    (type, obj) => write(type, render(obj)),
    (status) => {
      write('ERROR', status)
      stop()
    }
  )
  return { stop }
}
