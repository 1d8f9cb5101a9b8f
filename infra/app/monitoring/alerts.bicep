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
param graphSubscriptionAlerts bool

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'm365ops'
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

var createdActionGroupIds = empty(alertEmailAddress) ? [] : [actionGroup.id]
var existingActionGroupIds = empty(existingActionGroupResourceId) ? [] : [existingActionGroupResourceId]
var actionGroupIds = concat(createdActionGroupIds, existingActionGroupIds)

var rules = [
  {
    name: 'poison-messages'
    displayName: 'Poison queue not empty'
    description: 'The host moved a message to a -poison queue after maxDequeueCount failed attempts: a notification batch was not applied. See README, Operations.'
    severity: 1
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    query: loadTextContent('../../monitoring/alerts/poison-messages.kql')
    timeAggregation: 'Total'
    metricMeasureColumn: 'itemCount'
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
    timeAggregation: 'Total'
    metricMeasureColumn: 'rejections'
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
    displayName: 'Graph subscription maintenance failing'
    description: 'maintainSubscriptions failed twice within 3 hours: the Graph subscription is not being renewed or repaired, or the delta sync fails. See README, Operations.'
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
    displayName: 'Graph subscription expiring'
    description: 'No Graph subscription was ensured in the window, or it expires within 12 hours: change notifications are about to stop. See README, Operations.'
    severity: 1
    evaluationFrequency: 'PT1H'
    windowSize: 'PT${subscriptionMaintenanceWindowHours}H'
    query: loadTextContent('../../monitoring/alerts/subscription-expiring.kql')
    timeAggregation: 'Count'
    operator: 'GreaterThan'
    threshold: 0
  }
]

// Without Graph change notifications the subscription alerts would only ever fire.
var deployedRules = filter(rules, rule => graphSubscriptionAlerts || !startsWith(rule.name, 'subscription-'))

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in deployedRules: {
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
