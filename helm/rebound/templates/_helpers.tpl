{{/* Chart name, shortened to DNS label size. */}}
{{- define "rebound.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified base name. */}}
{{- define "rebound.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "rebound.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "rebound.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rebound.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "rebound.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "name" "ingest"). */}}
{{- define "rebound.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rebound.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "rebound.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "rebound.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "rebound.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- if eq $tag "latest" -}}{{- fail "image.tag must name a version, not latest" -}}{{- end -}}
{{- printf "%s/%s-%s:%s" .root.Values.image.registry .root.Values.image.repository .name $tag -}}
{{- end -}}

{{/* Environment shared by every service. */}}
{{- define "rebound.commonEnv" -}}
{{- $v := .Values -}}
- name: REBOUND_LOG_FORMAT
  value: json
- name: REBOUND_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: REBOUND_SHUTDOWN_GRACE_SECONDS
  value: {{ $v.shutdownGraceSeconds | quote }}
- name: REBOUND_HTTP_ADDRESS
  value: "0.0.0.0:8080"
- name: REBOUND_GRPC_ADDRESS
  value: "0.0.0.0:50051"
- name: REBOUND_KAFKA_BROKERS
  value: {{ $v.kafka.brokers | quote }}
{{- $props := list -}}
{{- range $k, $val := $v.kafka.properties -}}
{{- $props = append $props (printf "%s=%v" $k $val) -}}
{{- end -}}
{{- if $v.kafka.sasl.enabled -}}
{{- $props = append $props (printf "sasl.mechanism=%s" $v.kafka.sasl.mechanism) -}}
{{- $props = append $props (printf "sasl.username=%s" $v.kafka.sasl.username) -}}
{{- end -}}
{{- if $v.kafka.tls.enabled -}}
{{- $props = append $props "ssl.ca.location=/etc/rebound/kafka-tls/ca.crt" -}}
{{- end }}
- name: REBOUND_KAFKA_PROPERTIES
  value: {{ join ";" $props | quote }}
{{- if $v.kafka.sasl.enabled }}
- name: REBOUND_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "rebound.secretName" . }}
      key: {{ $v.kafka.sasl.passwordKey }}
{{- end }}
- name: REBOUND_REDIS_ADDRESS
  value: {{ $v.redis.address | quote }}
- name: REBOUND_REDIS_PREFIX
  value: {{ $v.redis.prefix | quote }}
{{- if $v.redis.auth }}
- name: REBOUND_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "rebound.secretName" . }}
      key: {{ $v.redis.passwordKey }}
{{- end }}
- name: REBOUND_RESPONSES_TOPIC
  value: {{ $v.kafka.topics.responses | quote }}
- name: REBOUND_DETRACTORS_TOPIC
  value: {{ $v.kafka.topics.detractors | quote }}
- name: REBOUND_CASE_EVENTS_TOPIC
  value: {{ $v.kafka.topics.caseEvents | quote }}
- name: REBOUND_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{- define "rebound.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "rebound.secretName" .root }}
      key: {{ .key }}
{{- end -}}
