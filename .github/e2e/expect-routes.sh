#!/usr/bin/env bash
# Usage: expect-routes.sh <color>. Fails unless every weighted destination of every HTTP route of
# VirtualService demo/reviews gives <color> 100 and the other color 0: what the cluster really
# routes, read with kubectl, not what the action says it wrote.
set -euo pipefail
color=$1
vs=$(kubectl -n demo get virtualservice reviews -o json)
echo "$vs" | jq -c '.spec.http[] | {name, route: [.route[] | {subset: .destination.subset, weight}]}'
echo "$vs" | jq -e --arg color "$color" '
  [.spec.http[].route[] | {subset: .destination.subset, weight: (.weight // 0)}] as $routes
  | ($routes | length) > 0
    and all($routes[]; if .subset == $color then .weight == 100 else .weight == 0 end)
' >/dev/null || {
  echo "::error::VirtualService demo/reviews does not route 100% to $color"
  exit 1
}
