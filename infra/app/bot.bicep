// The Azure Bot behind the messaging extension. Its Microsoft App ID is the app's user-assigned managed identity
// (msaAppType UserAssignedMSI), so there is no app registration and no client secret: Azure Bot Service creates
// single-tenant and managed-identity bots only (multi-tenant bot creation ended on 31 July 2025). The app only
// answers invokes and never calls the Bot Connector, so the identity needs no further role for the bot.
// Resource type reference: Microsoft.BotService/botServices and botServices/channels, API 2022-09-15.

@description('Globally unique bot handle.')
param name string
param tags object

@allowed([
  'F0'
  'S1'
])
param sku string

@description('Resource id of the user-assigned identity the bot authenticates as.')
param identityResourceId string

@description('Client id of that identity: the bot\'s Microsoft App ID (BOT_APP_ID).')
param identityClientId string

@description('https URL the Bot Connector posts activities and invokes to.')
param messagingEndpoint string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  // Azure Bot is a global resource (data residency "global").
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    name: sku
  }
  properties: {
    displayName: name
    endpoint: messagingEndpoint
    msaAppType: 'UserAssignedMSI'
    msaAppId: identityClientId
    msaAppTenantId: tenant().tenantId
    msaAppMSIResourceId: identityResourceId
  }
}

// Teams: the messaging extension's search, link unfurling and settings invokes.
resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

// Outlook: the same messaging extension in Outlook (the Universal Actions work needs this channel too).
resource outlookChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'OutlookChannel'
  location: 'global'
  properties: {
    channelName: 'OutlookChannel'
  }
}

output name string = bot.name
