# One image for every leadflow process: the command picks API, workers or scheduler.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency: the image runs the TypeScript sources directly.
RUN npm install --omit=dev --ignore-scripts && npm cache clean --force
COPY src ./src
COPY workers ./workers
COPY templates ./templates
COPY scripts ./scripts
COPY bin ./bin
COPY tsconfig.json ./
# the data volume (the generated admin key) must be the app user's
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
