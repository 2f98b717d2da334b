/**
 * PATCH as kube-apiserver does it: merge patch (RFC 7386), JSON patch (RFC 6902, with kube's 422
 * for a failed test), strategic merge patch on built-ins only (415 on custom resources), and a
 * simplified server-side apply.
 */
import { jsonPatch, mergePatch, strategicMergePatch } from '../../sandbox/apiserver/patch.js'
import {
  DEPLOY_PATH,
  NS,
  VS_PATH,
  seed,
  startHarness,
  virtualService,
  type Harness
} from './apiserver.harness.js'

describe('merge patch (RFC 7386)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }]
  ])('%j patched with %j is %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result)
  })
})

describe('JSON patch (RFC 6902)', () => {
  const doc = { a: { b: [1, 2, 3] }, c: 'x' }
  it.each([
    [[{ op: 'add', path: '/a/b/1', value: 9 }], { a: { b: [1, 9, 2, 3] }, c: 'x' }],
    [[{ op: 'add', path: '/a/b/-', value: 4 }], { a: { b: [1, 2, 3, 4] }, c: 'x' }],
    [[{ op: 'add', path: '/d', value: { e: 1 } }], { a: { b: [1, 2, 3] }, c: 'x', d: { e: 1 } }],
    [[{ op: 'remove', path: '/a/b/0' }], { a: { b: [2, 3] }, c: 'x' }],
    [[{ op: 'replace', path: '/c', value: 'y' }], { a: { b: [1, 2, 3] }, c: 'y' }],
    [[{ op: 'move', from: '/c', path: '/a/c' }], { a: { b: [1, 2, 3], c: 'x' } }],
    [[{ op: 'copy', from: '/a/b/2', path: '/a/b/0' }], { a: { b: [3, 1, 2, 3] }, c: 'x' }],
    // evanphx/json-patch v4 (kube-apiserver's library) adds a member that replace does not find.
    [
      [
        { op: 'test', path: '/a/b', value: [1, 2, 3] },
        { op: 'replace', path: '/a~1x', value: 1 }
      ],
      { a: { b: [1, 2, 3] }, c: 'x', 'a/x': 1 }
    ],
    [[{ op: 'remove', path: '/a/b/-1' }], { a: { b: [1, 2] }, c: 'x' }],
    [[{ op: 'add', path: '/d' }], { a: { b: [1, 2, 3] }, c: 'x', d: null }],
    [[{ op: 'copy', from: '/nope', path: '/d' }], { a: { b: [1, 2, 3] }, c: 'x', d: null }],
    [[{ op: 'add', path: 'ignored/d', value: 1 }], { a: { b: [1, 2, 3] }, c: 'x', d: 1 }],
    [
      [
        { op: 'test', path: '/c', value: 'x' },
        { op: 'remove', path: '/c' }
      ],
      { a: { b: [1, 2, 3] } }
    ]
  ])('%j', (ops, result) => {
    expect(jsonPatch(doc, JSON.stringify(ops))).toEqual(result)
  })

  it.each([
    [[{ op: 'test', path: '/c', value: 'y' }], 'testing value /c failed: test failed'],
    [
      [{ op: 'remove', path: '/nope' }],
      "error in remove for path: '/nope': Unable to remove nonexistent key: nope: missing value"
    ],
    [
      [{ op: 'add', path: '/x/y', value: 1 }],
      'add operation does not apply: doc is missing path: "/x/y": missing value'
    ],
    [[{ op: 'bogus', path: '/c' }], 'Unexpected kind: bogus'],
    [[{ path: '/c', value: 1 }], 'Unexpected kind: unknown'],
    [[{ op: 'replace', value: 1 }], 'replace operation failed to decode path: missing value'],
    [[{ op: 'move', path: '/d' }], 'move operation failed to decode from: missing value'],
    [
      [{ op: 'add', path: '', value: {} }],
      'add operation does not apply: doc is missing path: "": missing value'
    ],
    [
      [{ op: 'add', path: '/a/b/4', value: 1 }],
      "error in add for path: '/a/b/4': Unable to access invalid index: 4: invalid index referenced"
    ],
    [
      [{ op: 'test', path: '/a/b/1e0', value: 2 }],
      'error in test for path: \'/a/b/1e0\': strconv.Atoi: parsing "1e0": invalid syntax'
    ]
  ])('fails %j with %s and leaves the input alone', (ops, message) => {
    expect(() => jsonPatch(doc, JSON.stringify(ops))).toThrow(message)
    expect(doc).toEqual({ a: { b: [1, 2, 3] }, c: 'x' })
  })

  it('compares scalars in test by their bytes, the document side as kube encodes it', () => {
    const d = { n: 1, s: 'a<b' }
    const test = (path: string, raw: string) =>
      jsonPatch(d, `[{"op":"test","path":"${path}","value":${raw}}]`)
    expect(test('/n', '1')).toEqual(d)
    expect(() => test('/n', '1.0')).toThrow('testing value /n failed')
    // Go's encoder escapes <, > and & in the stored object; the value must match those bytes.
    expect(() => test('/s', '"a<b"')).toThrow('testing value /s failed')
    expect(test('/s', '"a\\u003cb"')).toEqual(d)
  })

  it('refuses op, path or from that are not strings while decoding, as kube does (400)', () => {
    expect(() => jsonPatch(doc, '[{"op":"add","path":5,"value":1}]')).toThrow(
      'error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string'
    )
    expect(() => jsonPatch(doc, '{"op":"add"}')).toThrow(
      'error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp'
    )
  })
})

describe('strategic merge patch (built-ins)', () => {
  const spec = {
    containers: [
      {
        name: 'app',
        image: 'a:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' }
        ],
        ports: [{ containerPort: 80 }]
      },
      { name: 'sidecar', image: 's:1' }
    ],
    tolerations: [{ key: 'x' }]
  }
  it.each([
    [
      'merges containers by name',
      { containers: [{ name: 'app', image: 'a:2' }] },
      (r: typeof spec) => {
        expect(r.containers).toHaveLength(2)
        expect(r.containers[0]).toMatchObject({
          name: 'app',
          image: 'a:2',
          ports: [{ containerPort: 80 }]
        })
      }
    ],
    [
      'merges env by name',
      {
        containers: [
          {
            name: 'app',
            env: [
              { name: 'B', value: '3' },
              { name: 'C', value: '4' }
            ]
          }
        ]
      },
      (r: typeof spec) => {
        expect(r.containers[0]?.env).toEqual([
          { name: 'A', value: '1' },
          { name: 'B', value: '3' },
          { name: 'C', value: '4' }
        ])
      }
    ],
    [
      'deletes an item with $patch: delete',
      { containers: [{ name: 'sidecar', $patch: 'delete' }] },
      (r: typeof spec) => {
        expect(r.containers.map((c) => c.name)).toEqual(['app'])
      }
    ],
    [
      'replaces lists without a merge key',
      { tolerations: [{ key: 'y' }] },
      (r: typeof spec) => {
        expect(r.tolerations).toEqual([{ key: 'y' }])
      }
    ]
  ])('%s', (_what, patch, check) => {
    check(strategicMergePatch(spec, patch) as typeof spec)
  })
})

describe('PATCH over HTTP', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ controllerDelayMs: 60_000 })
    seed(h.server.store)
  })
  afterAll(async () => {
    await h.close()
  })

  const weights = async (name = 'reviews'): Promise<number[]> => {
    const vs = h.server.store.get('virtualservices', NS, name)
    const http = (vs?.spec?.http ?? []) as Array<{ route: Array<{ weight: number }> }>
    return http[0]?.route.map((r) => r.weight) ?? []
  }

  it('applies a merge patch to a VirtualService', async () => {
    await h.call('POST', VS_PATH, { body: virtualService('merge') })
    const r = await h.call('PATCH', `${VS_PATH}/merge`, {
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { a: 'b' } }, spec: { gateways: ['mesh'] } }
    })
    expect(r.status).toBe(200)
    expect(r.body.spec.gateways).toEqual(['mesh'])
    expect(r.body.spec.hosts).toEqual(['reviews'])
  })

  it('applies a JSON patch guarded by a test of resourceVersion', async () => {
    const rv = h.server.store.get('virtualservices', NS, 'reviews')?.metadata.resourceVersion
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: rv },
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 90 },
        { op: 'replace', path: '/spec/http/0/route/1/weight', value: 10 }
      ]
    })
    expect(r.status).toBe(200)
    expect(await weights()).toEqual([90, 10])
  })

  it.each([
    [
      'a failed test',
      [
        { op: 'test', path: '/metadata/resourceVersion', value: '1' },
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 0 }
      ]
    ],
    ['a missing path', [{ op: 'replace', path: '/spec/http/5/route/0/weight', value: 0 }]],
    ['a remove of a missing field', [{ op: 'remove', path: '/spec/gateways' }]],
    ['an add without path', [{ op: 'add', value: { spec: { hosts: ['x'] } } }]],
    ['a replace without path', [{ op: 'replace', value: 0 }]],
    ['a remove without path', [{ op: 'remove' }]],
    ['a test without path', [{ op: 'test', value: 'x' }]],
    ['an operation without op', [{ path: '/spec/hosts/0', value: 'x' }]],
    ['an unknown op', [{ op: 'upsert', path: '/spec/hosts/0', value: 'x' }]],
    ['a move without from', [{ op: 'move', path: '/spec/gateways' }]],
    ['a copy without from', [{ op: 'copy', path: '/spec/gateways' }]],
    ['an add at the root', [{ op: 'add', path: '', value: { spec: { hosts: ['x'] } } }]]
  ])(
    'answers 422 Invalid for %s, as kube-apiserver does, and changes nothing',
    async (_what, ops) => {
      const before = h.server.store.get('virtualservices', NS, 'reviews')
      const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
        contentType: 'application/json-patch+json',
        body: ops
      })
      expect(r.status).toBe(422)
      expect(r.body).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server rejected our request due to an error in our request',
        reason: 'Invalid',
        details: {},
        code: 422
      })
      expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
    }
  )

  it('answers 400 BadRequest for a JSON patch that is not an array', async () => {
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: { op: 'add' }
    })
    expect(r.status).toBe(400)
    expect(r.body.reason).toBe('BadRequest')
  })

  it('answers 400 BadRequest for a path that is not a string, with the decoder message', async () => {
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: 5, value: {} }]
    })
    expect(r.status).toBe(400)
    expect(r.body.message).toBe(
      'error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string'
    )
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
  })

  it('warns about unknown operation fields, and refuses them with fieldValidation=Strict', async () => {
    const ops = [{ op: 'test', path: '/spec/hosts/0', value: 'reviews', spurious: 1 }]
    const warned = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: ops
    })
    expect(warned.status).toBe(200)
    expect(warned.headers.get('warning')).toBe(
      '299 - "json patch unknown field \\"[0].spurious\\""'
    )
    const strict = await h.call('PATCH', `${VS_PATH}/reviews?fieldValidation=Strict`, {
      contentType: 'application/json-patch+json',
      body: ops
    })
    expect(strict.status).toBe(422)
    expect(strict.body.message).toMatch(
      /^ "" is invalid: patch: Invalid value: ".*": strict decoding error: json patch unknown field "\[0\]\.spurious"$/
    )
  })

  it('answers 415 UnsupportedMediaType for strategic merge patch on a custom resource', async () => {
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { hosts: ['x'] } }
    })
    expect(r.status).toBe(415)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      reason: 'UnsupportedMediaType',
      code: 415
    })
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
  })

  it('answers 415 for an unknown patch type on a built-in, listing strategic merge too', async () => {
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/json',
      body: {}
    })
    expect(r.status).toBe(415)
    expect(r.body.message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml'
    )
  })

  it('applies a strategic merge patch to a Deployment, merging containers by name', async () => {
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'reviews:2' }] } } } }
    })
    expect(r.status).toBe(200)
    expect(r.body.spec.template.spec.containers).toEqual([
      expect.objectContaining({ name: 'app', image: 'reviews:2', imagePullPolicy: 'IfNotPresent' })
    ])
  })

  it('answers 400 for a patch that renames the object, 404 for a missing one', async () => {
    const rename = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/merge-patch+json',
      body: { metadata: { name: 'other' } }
    })
    expect(rename.status).toBe(400)
    const missing = await h.call('PATCH', `${VS_PATH}/missing`, {
      contentType: 'application/merge-patch+json',
      body: { spec: {} }
    })
    expect(missing.status).toBe(404)
    expect(missing.body.message).toBe('virtualservices.networking.istio.io "missing" not found')
  })

  describe('server-side apply (simplified)', () => {
    // (Istio's webhook wants a route: a VirtualService without http, tcp or tls is refused.)
    const applied =
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: applied\nspec:\n  hosts: [applied]\n  http:\n  - route:\n    - destination: {host: applied}\n'

    it('requires fieldManager', async () => {
      const r = await h.call('PATCH', `${VS_PATH}/applied`, {
        contentType: 'application/apply-patch+yaml',
        body: applied
      })
      expect(r.status).toBe(422)
      expect(r.body.message).toBe(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
      )
    })

    it('creates, then merges, recording an Apply entry', async () => {
      const created = await h.call('PATCH', `${VS_PATH}/applied?fieldManager=ci`, {
        contentType: 'application/apply-patch+yaml',
        body: applied
      })
      expect(created.status).toBe(201)
      const again = await h.call('PATCH', `${VS_PATH}/applied?fieldManager=ci`, {
        contentType: 'application/apply-patch+yaml',
        body: applied.replace('[applied]', '[applied, other]')
      })
      expect(again.status).toBe(200)
      expect(again.body.spec.hosts).toEqual(['applied', 'other'])
      expect(again.body.metadata.managedFields).toEqual([
        expect.objectContaining({ manager: 'ci', operation: 'Apply' })
      ])
    })
  })
})
