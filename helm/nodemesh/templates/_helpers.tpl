{{/* Chart name, overridable. */}}
{{- define "nodemesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name. Truncated so that the longest suffix ("-control-plane") still fits the 63
characters of a DNS label (Service names are DNS labels).
*/}}
{{- define "nodemesh.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 49 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 49 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 49 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nodemesh.controlPlane.fullname" -}}
{{- printf "%s-control-plane" (include "nodemesh.fullname" .) -}}
{{- end -}}

{{- define "nodemesh.envoy.fullname" -}}
{{- printf "%s-envoy" (include "nodemesh.fullname" .) -}}
{{- end -}}

{{- define "nodemesh.nodeAgent.fullname" -}}
{{- printf "%s-node-agent" (include "nodemesh.fullname" .) -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "nodemesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "nodemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nodemesh
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels: immutable on Deployments and DaemonSets, so they carry nothing that changes on upgrade. */}}
{{- define "nodemesh.controlPlane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control-plane
{{- end -}}

{{- define "nodemesh.envoy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node-proxy
{{- end -}}

{{- define "nodemesh.nodeAgent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{- define "nodemesh.controlPlane.labels" -}}
{{ include "nodemesh.labels" . }}
app.kubernetes.io/component: control-plane
{{- end -}}

{{- define "nodemesh.envoy.labels" -}}
{{ include "nodemesh.labels" . }}
app.kubernetes.io/component: node-proxy
{{- end -}}

{{- define "nodemesh.nodeAgent.labels" -}}
{{ include "nodemesh.labels" . }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "nodemesh.image" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .defaultTag $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* DNS name the node Envoys use to reach the control plane. */}}
{{- define "nodemesh.controlPlane.address" -}}
{{- printf "%s.%s.svc.%s" (include "nodemesh.controlPlane.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Host directory holding the netns pins: the directory part of the netns template. */}}
{{- define "nodemesh.netnsDir" -}}
{{- dir .Values.controlPlane.config.netnsTemplate -}}
{{- end -}}

{{/* Allowed annotation prefix without its trailing slash, as a mount path. */}}
{{- define "nodemesh.netnsAllowedDir" -}}
{{- .Values.controlPlane.config.netnsAllowedPrefix | trimSuffix "/" -}}
{{- end -}}

{{/* The first "major.minor.patch" found in an image tag such as "v1.38.3" or "distroless-v1.38.3", or "". */}}
{{- define "nodemesh.envoy.version" -}}
{{- regexFind "[0-9]+\\.[0-9]+\\.[0-9]+" .Values.envoy.image.tag -}}
{{- end -}}

{{/*
Cross-field rules that values.schema.json cannot express. Included by the workload templates; `fail` aborts
`helm template`/`install` with the message.
*/}}
{{- define "nodemesh.validate" -}}
{{- $cp := .Values.controlPlane -}}
{{- $envoy := .Values.envoy -}}
{{- if not (contains "{podUid}" $cp.config.netnsTemplate) -}}
{{- fail (printf "controlPlane.config.netnsTemplate %q must contain the placeholder {podUid}" $cp.config.netnsTemplate) -}}
{{- end -}}
{{- if contains "{podUid}" (include "nodemesh.netnsDir" .) -}}
{{- fail (printf "controlPlane.config.netnsTemplate %q: {podUid} must be in the last path segment, so that one host directory holds all pins" $cp.config.netnsTemplate) -}}
{{- end -}}
{{- if and $envoy.hostNetwork (gt (int $envoy.updateStrategy.maxSurge) 0) -}}
{{- fail "envoy.hostNetwork=true requires envoy.updateStrategy.maxSurge=0 (and maxUnavailable>=1): two Envoys in the node's network namespace would both bind the admin and status ports" -}}
{{- end -}}
{{- if and (eq (int $envoy.updateStrategy.maxSurge) 0) (eq (int $envoy.updateStrategy.maxUnavailable) 0) -}}
{{- fail "envoy.updateStrategy: maxSurge and maxUnavailable cannot both be 0 (the rollout could never progress)" -}}
{{- end -}}
{{- if ge (float64 $envoy.overload.resetStreamsScalingThreshold) (float64 $envoy.overload.resetStreamsSaturationThreshold) -}}
{{- fail "envoy.overload.resetStreamsScalingThreshold must be below resetStreamsSaturationThreshold (Envoy rejects a scaled trigger that saturates before it starts)" -}}
{{- end -}}
{{- $version := include "nodemesh.envoy.version" . -}}
{{- if and $version (not $envoy.image.digest) -}}
{{- $minimum := ternary "1.38.0-0" "1.36.0-0" (eq $cp.config.upstreamBinding "shared") -}}
{{- if not (semverCompare (printf ">=%s" $minimum) $version) -}}
{{- fail (printf "envoy.image.tag %q: controlPlane.config.upstreamBinding=%s needs Envoy >= %s" $envoy.image.tag $cp.config.upstreamBinding (trimSuffix "-0" $minimum)) -}}
{{- end -}}
{{- end -}}
{{- if eq $cp.config.nodeAuth "token" -}}
{{- fail "controlPlane.config.nodeAuth=token would refuse this chart's own Envoys: Envoy's ADS client cannot send a token from a file. Use peer (default) or peer-or-token (tokens for proxyless clients, peer binding for the Envoys)" -}}
{{- end -}}
{{- $tls := .Values.xdsTls -}}
{{- if and $tls.enabled (or (not $tls.serverSecretName) (not $tls.caSecretName)) -}}
{{- fail "xdsTls.enabled=true needs xdsTls.serverSecretName (tls.crt, tls.key) and xdsTls.caSecretName (ca.crt)" -}}
{{- end -}}
{{- if and $tls.enabled $tls.clientAuth.enabled (not $tls.clientAuth.clientSecretName) -}}
{{- fail "xdsTls.clientAuth.enabled=true needs xdsTls.clientAuth.clientSecretName (tls.crt, tls.key for the Envoys)" -}}
{{- end -}}
{{- if eq (int $cp.config.xdsPort) (int $cp.config.adminPort) -}}
{{- fail "controlPlane.config.xdsPort and adminPort must differ" -}}
{{- end -}}
{{- if has (int $cp.config.debugPort) (list (int $cp.config.xdsPort) (int $cp.config.adminPort)) -}}
{{- fail "controlPlane.config.debugPort must differ from xdsPort and adminPort" -}}
{{- end -}}
{{- if and $cp.debug.expose (eq $cp.debug.auth "none") -}}
{{- fail "controlPlane.debug.expose=true needs controlPlane.debug.auth=token-review or token-file: the debug endpoints show every node's configuration and every pod's network namespace" -}}
{{- end -}}
{{- if and (eq $cp.debug.auth "token-file") (not $cp.debug.tokenSecretName) -}}
{{- fail "controlPlane.debug.auth=token-file needs controlPlane.debug.tokenSecretName (a Secret with key tokens)" -}}
{{- end -}}
{{- if eq (int $envoy.adminPort) (int $envoy.statusPort) -}}
{{- fail "envoy.adminPort and envoy.statusPort must differ" -}}
{{- end -}}
{{- $agent := .Values.nodeAgent -}}
{{- if $agent.enabled -}}
{{- if or (not (hasSuffix "/{podUid}" $cp.config.netnsTemplate)) (eq $cp.config.netnsTemplate "/{podUid}") -}}
{{- fail (printf "controlPlane.config.netnsTemplate %q: with nodeAgent.enabled it must be <directory>/{podUid} (the CNI plugin names each pin after the pod UID)" $cp.config.netnsTemplate) -}}
{{- end -}}
{{- if and $envoy.hostNetwork (has (int $agent.adminPort) (list (int $envoy.adminPort) (int $envoy.statusPort))) -}}
{{- fail "nodeAgent.adminPort clashes with an Envoy port on the host network (envoy.hostNetwork=true)" -}}
{{- end -}}
{{- if eq (int $agent.adminPort) (int $agent.debugPort) -}}
{{- fail "nodeAgent.adminPort and debugPort must differ" -}}
{{- end -}}
{{- if and $envoy.hostNetwork (has (int $agent.debugPort) (list (int $envoy.adminPort) (int $envoy.statusPort))) -}}
{{- fail "nodeAgent.debugPort clashes with an Envoy port on the host network (envoy.hostNetwork=true)" -}}
{{- end -}}
{{- if eq (clean $agent.cni.spoolDir) (include "nodemesh.netnsDir" .) -}}
{{- fail "nodeAgent.cni.spoolDir must differ from the pin directory of controlPlane.config.netnsTemplate" -}}
{{- end -}}
{{- end -}}
{{- end -}}
