// Log alerts on Application Insights, one per failure an operator must act on (README, Operations). The queries
// live in infra/monitoring/alerts/*.kql so they can be run as they are in the Logs blade.

param namePrefix string
param location string
param tags object
param applicationInsightsName string
param actionGroupName string
param alertEmailAddress string
param existingActionGroupResourceId string
param verificationFailureThreshold int
param serverErrorPercentThreshold int
param subscriptionMaintenanceWindowHours int

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'm365-ops'
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = concat(
  empty(alertEmailAddress) ? [] : [actionGroup.id],
  empty(existingActionGroupResourceId) ? [] : [existingActionGroupResourceId]
)

var rules = [
  {
    name: 'poison-messages'
    displayName: 'Poison queue not empty'
    description: 'The host moved a message to a -poison queue after maxDequeueCount failed attempts: a notification batch was not applied. See README, Operations.'
    severity: 1
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    query: loadTextContent('../../monitoring/alerts/poison-messages.kql')
    timeAggregation: 'Count'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'verification-failures'
    displayName: 'Verification failures spike'
    description: 'Many requests failed caller verification (token, HMAC, clientState). Check auth-rejections by reason. See README, Operations.'
    severity: 2
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    query: loadTextContent('../../monitoring/alerts/verification-failures.kql')
    timeAggregation: 'Count'
    operator: 'GreaterThan'
    threshold: verificationFailureThreshold
  }
  {
    name: 'server-errors'
    displayName: 'HTTP 5xx rate'
    description: 'A share of HTTP answers were 5xx (feature not configured, storage or Graph unavailable). See README, Operations.'
    severity: 2
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    query: loadTextContent('../../monitoring/alerts/server-errors.kql')
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'failedPercent'
    operator: 'GreaterThan'
    threshold: serverErrorPercentThreshold
  }
  {
    name: 'subscription-failures'
    displayName: 'Graph subscription renewal failing'
    description: 'maintainSubscriptions failed twice within 3 hours; the Graph subscription is not being renewed or repaired. See README, Operations.'
    severity: 2
    evaluationFrequency: 'PT1H'
    windowSize: 'PT3H'
    query: loadTextContent('../../monitoring/alerts/subscription-failures.kql')
    timeAggregation: 'Count'
    operator: 'GreaterThanOrEqual'
    threshold: 2
  }
  {
    name: 'subscription-expiring'
    displayName: 'Graph subscription not maintained'
    description: 'No successful maintainSubscriptions run in the window: the subscription will expire unrenewed. See README, Operations.'
    severity: 1
    evaluationFrequency: 'PT1H'
    windowSize: 'PT${subscriptionMaintenanceWindowHours}H'
    query: loadTextContent('../../monitoring/alerts/subscription-runs.kql')
    timeAggregation: 'Count'
    operator: 'LessThan'
    threshold: 1
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.evaluationFrequency
      windowSize: rule.windowSize
      scopes: [
        applicationInsights.id
      ]
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: rule.timeAggregation
            metricMeasureColumn: rule.?metricMeasureColumn
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: actionGroupIds
      }
    }
  }
]
